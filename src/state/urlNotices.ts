/** Notices about the address bar's settings: values that were clamped or dropped (never an error). */
import { createStore, useStore } from 'zustand';

export interface UrlNoticesState {
  notices: string[];
  add: (notices: string[]) => void;
  dismiss: () => void;
}

export function createUrlNoticesStore() {
  return createStore<UrlNoticesState>()((set) => ({
    notices: [],
    add: (notices) => set((s) => ({ notices: [...s.notices, ...notices] })),
    dismiss: () => set({ notices: [] }),
  }));
}

export const urlNoticesStore = createUrlNoticesStore();
export const useUrlNotices = <T>(sel: (s: UrlNoticesState) => T) => useStore(urlNoticesStore, sel);
