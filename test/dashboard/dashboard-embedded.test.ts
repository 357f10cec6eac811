// needs: chromium
// The dashboard on the embedded backend (SQLite, in-process state).
import { dashboardSuite } from './dashboard';

dashboardSuite('sqlite+memory');
