import { diffScenarios, diffsOffScenario } from './diffs';

diffScenarios('sqlite+memory', 1);
diffsOffScenario('sqlite+memory');
