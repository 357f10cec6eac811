import { engagementScenarios } from './engagement';

engagementScenarios('sqlite+memory');
