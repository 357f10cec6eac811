import { wildcardScenarios } from './adversarial-wildcards';

wildcardScenarios('sqlite+memory');
