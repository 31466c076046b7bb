// The page under test: calls payments.v1.PaymentService over gRPC-web from the browser, with a
// Connect client generated from proto/, and publishes what it saw in window.__result.
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { PaymentService, PaymentStatus } from "./gen/payments/v1/payments_pb";

const params = new URLSearchParams(location.search);
const apiKey = params.get("key") ?? "";
const transport = createGrpcWebTransport({
  baseUrl: params.get("api") ?? "",
  useBinaryFormat: true,
  interceptors: [
    (next) => async (request) => {
      request.header.set("authorization", `Bearer ${apiKey}`);
      return next(request);
    },
  ],
});
const client = createClient(PaymentService, transport);

async function run(): Promise<Record<string, unknown>> {
  const result: Record<string, unknown> = {};
  const request = { amountMinor: 1999n, currency: "USD", paymentMethod: "pm_card_visa" };
  const key = `browser-${Date.now()}`;
  const payment = await client.authorize(request, { headers: { "idempotency-key": key } });
  result.authorized = { id: payment.id, status: PaymentStatus[payment.status], amountMinor: payment.amountMinor.toString() };
  const fetched = await client.getPayment({ paymentId: payment.id });
  result.fetched = { id: fetched.id, version: fetched.version.toString() };
  let replayed: string | null = null;
  await client.authorize(request, {
    headers: { "idempotency-key": key },
    onHeader: (headers) => {
      replayed = headers.get("idempotent-replayed");
    },
  });
  result.replayed = replayed;
  try {
    await client.authorize({ amountMinor: 0n, currency: "USD", paymentMethod: "pm_card_visa" });
    result.invalid = "no error";
  } catch (error) {
    const connectError = ConnectError.from(error);
    result.invalid = { code: connectError.code, name: Code[connectError.code], message: connectError.rawMessage };
  }
  return result;
}

run()
  .catch((error) => ({ error: String(error) }))
  .then((result) => {
    (window as unknown as { __result: unknown }).__result = result;
    const out = document.getElementById("out");
    if (out) out.textContent = JSON.stringify(result, null, 2);
  });
