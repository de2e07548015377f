// Indexing throughput for `npm run bench`: the service's own queue() consumer, driven with
// batches built here (the bench's workerd has no queue): POST a JSON array of messages
// ({document_id, version_number}) and get how long the consumer took and what it acknowledged.
import service from "../src/index";

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const bodies = (await request.json()) as unknown[];
    let acked = 0;
    let retried = 0;
    const messages = bodies.map((body, i) => ({
      id: String(i),
      timestamp: new Date(),
      attempts: 1,
      body,
      ack: () => {
        acked += 1;
      },
      retry: () => {
        retried += 1;
      },
    }));
    const batch = {
      queue: "docvault-content",
      messages,
      ackAll: () => {},
      retryAll: () => {},
    } as unknown as MessageBatch<unknown>;
    const started = performance.now();
    await service.queue(batch, env, {} as ExecutionContext);
    return Response.json({ ms: performance.now() - started, acked, retried });
  },
};
