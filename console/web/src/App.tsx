import { lazy, Suspense } from 'react';
import { Navigate, Route, Routes, useLocation } from 'react-router';
import { Center, Loader } from '@mantine/core';
import { useSession } from './session';
import { Layout } from './components/Layout';
import { LoginPage } from './pages/Login';
import { NamespacesPage } from './pages/Namespaces';
import { ServicesPage } from './pages/Services';
import { ServiceDetailPage } from './pages/ServiceDetail';
import { RulesPage } from './pages/Rules';
import { ConfigGroupsPage } from './pages/ConfigGroups';
import { UsersPage } from './pages/Users';
import { ClusterPage } from './pages/Cluster';

// The config group page holds the editor: it loads with its own chunk.
const ConfigGroupDetailPage = lazy(() => import('./pages/ConfigGroupDetail'));

function Loading() {
  return (
    <Center h="60vh">
      <Loader aria-label="Loading" />
    </Center>
  );
}

export function App() {
  const { session, open } = useSession();
  const location = useLocation();
  if (!session) return <Loading />;
  const inside = session.authenticated || open;
  if (!inside) {
    if (location.pathname !== '/login') {
      const next = location.pathname + location.search;
      return <Navigate to={`/login?next=${encodeURIComponent(next)}`} replace />;
    }
    return <LoginPage />;
  }
  if (location.pathname === '/login') {
    const next = new URLSearchParams(location.search).get('next');
    return <Navigate to={next && next.startsWith('/') ? next : '/namespace'} replace />;
  }
  return (
    <Layout>
      <Suspense fallback={<Loading />}>
        <Routes>
          <Route path="/" element={<Navigate to="/namespace" replace />} />
          <Route path="/namespace" element={<NamespacesPage />} />
          <Route path="/service" element={<ServicesPage />} />
          <Route path="/service-detail" element={<ServiceDetailPage />} />
          <Route path="/custom-route" element={<RulesPage kind="routing" />} />
          <Route path="/accesslimit" element={<RulesPage kind="ratelimit" />} />
          <Route path="/circuitBreaker" element={<RulesPage kind="circuitbreaker" />} />
          <Route path="/faultDetect" element={<RulesPage kind="faultdetect" />} />
          <Route path="/configuration" element={<ConfigGroupsPage />} />
          <Route path="/filegroup-detail" element={<ConfigGroupDetailPage />} />
          <Route path="/user" element={<UsersPage tab="users" />} />
          <Route path="/usergroup" element={<UsersPage tab="groups" />} />
          <Route path="/policy" element={<UsersPage tab="strategies" />} />
          <Route path="/cluster" element={<ClusterPage />} />
          <Route path="*" element={<Navigate to="/namespace" replace />} />
        </Routes>
      </Suspense>
    </Layout>
  );
}
