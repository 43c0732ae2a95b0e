// Calls samvirke over gRPC-Web as a browser client does, with connect-es and the code
// `buf generate` makes from the contract: creates a plan, reads it back, and reads the
// google.rpc.BadRequest of a bad request. Run by CI against a running server:
//
//   node dist/grpc-web-check.js http://127.0.0.1:50051 "$STAFF_TOKEN" "$PATIENT_ID"
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { BadRequestSchema } from "./gen/google/rpc/error_details_pb.js";
import { PlanKind, PlanService } from "./gen/samvirke/v1/plans_pb.js";

const [baseUrl, token, patientId] = process.argv.slice(2);
if (!baseUrl || !token || !patientId) {
  throw new Error("usage: grpc-web-check BASE_URL STAFF_TOKEN PATIENT_ID");
}
const transport = createGrpcWebTransport({ baseUrl, useBinaryFormat: true });
const plans = createClient(PlanService, transport);
const headers = { authorization: `Bearer ${token}` };

const created = await plans.createPlan(
  {
    plan: {
      organisation: "910000004",
      patientId,
      patientDisplayName: "Kari Nordmann",
      kind: PlanKind.GENERAL,
    },
  },
  { headers },
);
const name = created.plan?.name ?? "";
const read = await plans.getPlan({ name }, { headers });
if (read.plan?.name !== name) {
  throw new Error(`GetPlan answered ${read.plan?.name}, not ${name}`);
}

try {
  await plans.getPlan({ name: "plans/not-an-id" }, { headers });
  throw new Error("a bad name was answered");
} catch (e) {
  const error = ConnectError.from(e);
  if (error.code !== Code.InvalidArgument) {
    throw new Error(`a bad name answered ${Code[error.code]}: ${error.message}`);
  }
  const fields = error
    .findDetails(BadRequestSchema)
    .flatMap((badRequest) => badRequest.fieldViolations.map((v) => v.field));
  if (fields.join() !== "name") {
    throw new Error(`the BadRequest names ${fields.join() || "nothing"}, not name`);
  }
}
console.log(`gRPC-Web: created and read ${name}; a bad name's BadRequest names the field`);
