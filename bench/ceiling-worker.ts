// The ceiling: a bare Hono route in the same harness, runtime and machine as the service.
import { Hono } from "hono";

const app = new Hono();
app.get("/", (c) => c.json({ status: "ok" }));
export default app;
