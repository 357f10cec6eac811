import { diffScenarios } from './diffs';

diffScenarios('sqlite+memory', 1);
