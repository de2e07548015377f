// A boolean from a statement's answer: `true` as JSON carries it, or `"t"`, PostgreSQL's text
// format, where a value reaches the driver as text (the local endpoint replays values that way).
export const isTrue = (value: unknown): boolean => value === true || value === "t";
