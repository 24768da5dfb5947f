// Who is logged in. The server keeps the token; this knows only the user's name and role,
// the CSRF token for writes and whether the console checks auth at all.
import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from 'react';
import { ApiError, get, post, setCsrf, setUnauthorizedHandler } from './api';

const NOT_FOUND_USER = 400312;
const MAIN_ACCOUNT = 'polaris';

export interface SessionInfo {
  authenticated: boolean;
  user?: { id: string; name: string; role: string; ownerId: string };
  auth: { consoleOpen: boolean; clientOpen: boolean };
  idleSeconds: number;
}

interface SessionApi {
  session: SessionInfo | null;
  /** Auth is off for the console: every page is open, nobody needs to log in. */
  open: boolean;
  login: (name: string, password: string) => Promise<void>;
  logout: () => Promise<void>;
  refresh: () => Promise<void>;
}

const SessionContext = createContext<SessionApi | null>(null);

// Asked for as soon as the script runs, while React is still starting.
let firstSession: Promise<SessionInfo & { csrf: string }> | null = get('/console/v1/session');
firstSession.catch(() => {});

export function SessionProvider({ children }: { children: ReactNode }) {
  const [session, setSession] = useState<SessionInfo | null>(null);
  const refresh = useCallback(async () => {
    const info = await get('/console/v1/session');
    setCsrf(info.csrf);
    setSession(info);
  }, []);
  useEffect(() => {
    setUnauthorizedHandler(() => {
      void refresh();
    });
    const apply = (info: SessionInfo & { csrf: string }) => {
      setCsrf(info.csrf);
      setSession(info);
    };
    (firstSession ?? get('/console/v1/session')).then(apply).catch(() =>
      setSession({ authenticated: false, auth: { consoleOpen: true, clientOpen: false }, idleSeconds: 0 }),
    );
    firstSession = null;
  }, [refresh]);
  const login = async (name: string, password: string) => {
    try {
      await post('/core/v1/user/login', { name, password, owner: name });
    } catch (e) {
      // Not a main account: try it as a sub-account of the default main account.
      if (!(e instanceof ApiError) || e.code !== NOT_FOUND_USER || name === MAIN_ACCOUNT) throw e;
      await post('/core/v1/user/login', { name, password, owner: MAIN_ACCOUNT });
    }
    await refresh();
  };
  const logout = async () => {
    try {
      await post('/console/v1/logout', {});
    } finally {
      await refresh();
    }
  };
  const open = !!session && !session.auth.consoleOpen;
  return (
    <SessionContext.Provider value={{ session, open, login, logout, refresh }}>{children}</SessionContext.Provider>
  );
}

export function useSession(): SessionApi {
  const value = useContext(SessionContext);
  if (!value) throw new Error('useSession outside SessionProvider');
  return value;
}
