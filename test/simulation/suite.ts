// The bounded part of the simulation that `npm test` runs: consecutive seeds on
// one backend; a failing seed prints its minimal trace (the first one shrunk,
// to keep the suite's time bounded) and how to reproduce it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { openBackend, type BackendName, type SimBackend } from './backends';
import { simulateSeed } from './run';

export function simulationSuite(name: BackendName, seeds: number): void {
  describe(`simulation at the default settings (${name})`, () => {
    let backend: SimBackend;
    let shrunk = false;
    before(async () => {
      backend = await openBackend(name);
    });
    after(async () => {
      await backend?.close();
    });
    // SIM_SEED moves the window, e.g. to run the seeds a soak found failing.
    const first = Number(process.env.SIM_SEED ?? 1);
    for (let seed = first; seed < first + seeds; seed++) {
      test(`seed ${seed}: presence and time agree with the truth`, async () => {
        const outcome = await simulateSeed(backend, seed, { shrinkBudgetMs: shrunk ? 0 : 20_000 });
        if (outcome.trace) shrunk = true;
        assert.ok(outcome.result.applied > 10, `seed ${seed} applied only ${outcome.result.applied} steps: the run proves nothing`);
        assert.equal(outcome.result.violations.length, 0, outcome.trace);
      });
    }
  });
}
