// Starts the npm @firestore-emulator/server on 127.0.0.1 (its own start() binds 0.0.0.0).
// Usage: node firestore_emulator.js [port]; prints "READY <port>" once it listens. Port 0 picks a free one.
const { Server, ServerCredentials } = require("@grpc/grpc-js");
const { FirestoreState } = require("@firestore-emulator/server");
const { FirestoreServiceV1Impl } = require("@firestore-emulator/server/dist/server/FirestoreServiceV1Impl");

const server = new Server();
server.addService(FirestoreServiceV1Impl.definition, new FirestoreServiceV1Impl(new FirestoreState()));
server.bindAsync(`127.0.0.1:${Number(process.argv[2] || 0)}`, ServerCredentials.createInsecure(), (err, port) => {
  if (err) {
    console.error(err);
    process.exit(1);
  }
  console.log(`READY ${port}`);
});
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => server.tryShutdown(() => process.exit(0)));
}
