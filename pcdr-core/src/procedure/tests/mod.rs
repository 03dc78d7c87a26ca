//! Step tests of both procedures against mocked planes: for every step the happy path
//! (exact plane calls), the already-done path (skipped, nothing changed) and failures
//! (the error names the step, the target, the database and the file).

mod failback_steps;
mod failover_steps;
mod fixtures;
