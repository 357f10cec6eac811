// needs: mysql, redis
import { engagementScenarios } from './engagement';

engagementScenarios('mysql+redis');
