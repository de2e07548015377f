// Values the global setup hands to the test projects (see global-setup.ts).
declare module "vitest" {
  export interface ProvidedContext {
    stackBindings: Record<string, string>;
    databaseEngine: string;
    /** URL of a server that accepts connections and never answers. */
    blackHole: string;
    /** Base URL of a proxy to the Neon endpoint: `{base}/delay/{ms}/sql` delays answers to inserts. */
    slowWrites: string;
    /** Proxies to the object store that fail UploadPart of parts 2+: with a 500, or by dropping the connection. */
    failingParts: string;
    droppedParts: string;
    /** The webhook receiver (global-setup.ts says how each path answers; `GET /__log/{key}` lists requests). */
    webhookReceiver: string;
  }
}

export {};
