import { useState } from 'react';
import { keepPreviousData, useQuery, useQueryClient } from '@tanstack/react-query';
import { get, type Json, type Query } from './api';

/** A server-paged list: `offset`/`limit` go to the server, which answers one page and the total. */
export function usePaged(path: string, filters: Query, pick: (json: Json) => { rows: Json[]; total: number }) {
  const [page, setPage] = useState({ offset: 0, limit: 20 });
  const query = useQuery({
    queryKey: [path, filters, page],
    queryFn: async () => pick(await get(path, { ...filters, offset: page.offset, limit: page.limit })),
    placeholderData: keepPreviousData,
  });
  const client = useQueryClient();
  return {
    rows: query.data?.rows ?? [],
    total: query.data?.total ?? 0,
    loading: query.isLoading,
    error: query.error,
    offset: page.offset,
    limit: page.limit,
    setPage: (offset: number, limit: number) => setPage({ offset, limit }),
    resetPage: () => setPage((p) => ({ ...p, offset: 0 })),
    reload: () => client.invalidateQueries({ queryKey: [path] }),
  };
}

/** Reads a BatchQueryResponse list field and its `amount`, or a config `total`. */
export const batch = (field: string) => (json: Json) => ({
  rows: (json?.[field] as Json[]) ?? [],
  total: Number(json?.amount ?? json?.total ?? 0),
});
