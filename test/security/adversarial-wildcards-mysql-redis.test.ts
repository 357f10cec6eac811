import { wildcardScenarios } from './adversarial-wildcards';

wildcardScenarios('mysql+redis');
