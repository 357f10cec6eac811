import { securityScenarios } from './edge';

securityScenarios('sqlite+memory');
