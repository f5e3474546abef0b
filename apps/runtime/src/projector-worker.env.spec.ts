import { InvalidEnvironmentError, loadEnv } from '@khala/platform';
import { ProjectorWorkerEnv } from './projector-worker.env';

describe('ProjectorWorkerEnv', () => {
  it('leaves the batch size to the runner and retention and commit reports off when unset', () => {
    const env = loadEnv(ProjectorWorkerEnv, {});
    expect(env.PROJECTOR_BATCH_SIZE).toBeUndefined();
    expect(env).toMatchObject({ PROJECTOR_RETENTION: 'off', PROJECTOR_REPORT_COMMITS: '0' });
  });

  it('reads the documented settings', () => {
    const env = loadEnv(ProjectorWorkerEnv, { PROJECTOR_BATCH_SIZE: '400', PROJECTOR_RETENTION: 'on', PROJECTOR_REPORT_COMMITS: '1' });
    expect(env).toMatchObject({ PROJECTOR_BATCH_SIZE: 400, PROJECTOR_RETENTION: 'on', PROJECTOR_REPORT_COMMITS: '1' });
  });

  it('names each bad key instead of silently falling back', () => {
    let error: unknown;
    try {
      loadEnv(ProjectorWorkerEnv, { PROJECTOR_BATCH_SIZE: 'many', PROJECTOR_RETENTION: 'yes', PROJECTOR_REPORT_COMMITS: 'true' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(InvalidEnvironmentError);
    expect(Object.keys((error as InvalidEnvironmentError).badKeys).sort()).toEqual([
      'PROJECTOR_BATCH_SIZE',
      'PROJECTOR_REPORT_COMMITS',
      'PROJECTOR_RETENTION',
    ]);
  });
});
