// Indexing throughput for `npm run bench`: the service's own queue() consumer, driven with
// batches built here (the bench's workerd has no queue): POST a JSON array of messages
// ({document_id, version_number}) and get how long the consumer took and what it acknowledged.
import service from "../src/index";
import { messageBatch } from "./queue-batch";

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const { batch, outcome } = messageBatch("docvault-content", (await request.json()) as unknown[]);
    const started = performance.now();
    await service.queue(batch, env, {} as ExecutionContext);
    return Response.json({ ms: performance.now() - started, ...outcome });
  },
};
