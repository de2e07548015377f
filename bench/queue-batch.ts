// A queue() batch built from message bodies, for a workerd without queues (the bench's, and the
// deploy-bundle test's): the service's own consumer is called with it, and what it acknowledged
// or asked to retry is counted. Used by bench/content-consumer-worker.ts and
// test/node/deploy-bundle.test.ts.

export type BatchOutcome = { acked: number; retried: number };

/** A MessageBatch of `bodies` on `queue`; `outcome` counts the consumer's ack() and retry() calls. */
export function messageBatch(
  queue: string,
  bodies: unknown[],
): { batch: MessageBatch<unknown>; outcome: BatchOutcome } {
  const outcome: BatchOutcome = { acked: 0, retried: 0 };
  const messages = bodies.map((body, i) => ({
    id: String(i),
    timestamp: new Date(),
    attempts: 1,
    body,
    ack: () => {
      outcome.acked += 1;
    },
    retry: () => {
      outcome.retried += 1;
    },
  }));
  const batch = { queue, messages, ackAll: () => {}, retryAll: () => {} } as unknown as MessageBatch<unknown>;
  return { batch, outcome };
}
