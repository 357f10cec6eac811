// The simulation on the embedded backend: MemoryStore, SQLite, one process.
import { simulationSuite } from './suite';

simulationSuite('embedded', 5);
