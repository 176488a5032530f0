"""Firebase on loopback: the npm Auth and Firestore emulators, and a Firestore gRPC fake."""
