// PostGraphile 5 as the load generator's peer: the Amber preset over the views of
// views.sql (schema gigmarket_peer), nothing else. `loadgen --peer postgraphile` copies this
// file next to the installed packages and starts
//   node node_modules/postgraphile/dist/cli-run.js -C graphile.config.mjs --host 127.0.0.1 --port N
// with PEER_DATABASE_URL (the database `gigmarket seed --catalogue` filled) and
// PEER_POOL_SIZE (PostgreSQL connections, the same number the gigmarket server pools).
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { makePgService } from "postgraphile/adaptors/pg";

const connectionString = process.env.PEER_DATABASE_URL;
if (!connectionString) {
  throw new Error("PEER_DATABASE_URL is not set");
}

/** @type {GraphileConfig.Preset} */
const preset = {
  extends: [PostGraphileAmberPreset],
  pgServices: [
    makePgService({
      connectionString,
      schemas: ["gigmarket_peer"],
      poolConfig: { max: Number(process.env.PEER_POOL_SIZE ?? "16") },
    }),
  ],
};

export default preset;
