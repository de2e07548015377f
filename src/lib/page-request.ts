// What a store needs to read one page of a list, and what it answers; apart from the HTTP
// schemas (src/lib/pagination.ts) so that the domain can use it without zod-openapi.

export type PageRequest = { page: number; limit: number };

export type Page<T> = { items: T[]; total: number };

export const offsetOf = ({ page, limit }: PageRequest) => (page - 1) * limit;
