import { lazy, Suspense } from 'react';
import { Navigate, Route, Routes } from 'react-router';
import { Loading } from './components/brand';
import { Layout } from './components/Layout';
import { NamespacesPage } from './pages/Namespaces';
import { ServicesPage } from './pages/Services';
import { ServiceDetailPage } from './pages/ServiceDetail';
import { RulesPage } from './pages/Rules';
import { ConfigGroupsPage } from './pages/ConfigGroups';
import { UsersPage } from './pages/Users';
import { ClusterPage } from './pages/Cluster';

// The config group page holds the editor: it loads with its own chunk.
const ConfigGroupDetailPage = lazy(() => import('./pages/ConfigGroupDetail'));

/** The pages behind the login, with the navigation around them. */
export default function Shell() {
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
