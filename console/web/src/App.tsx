import { lazy, Suspense } from 'react';
import { Navigate, useLocation } from 'react-router';
import { useSession } from './session';
import { LoginPage } from './pages/Login';
import { Loading } from './components/brand';

// Everything behind the login loads with its own chunk, so the login form needs only the
// smallest part of the app; the config group page (with the editor) splits further.
const Shell = lazy(() => import('./Shell'));

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
    <Suspense fallback={<Loading />}>
      <Shell />
    </Suspense>
  );
}
