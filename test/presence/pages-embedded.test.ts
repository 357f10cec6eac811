import { pagedRoomScenario } from './pages';

pagedRoomScenario('sqlite+memory', 1);
