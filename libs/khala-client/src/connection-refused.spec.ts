import { ConnectionRefusedError, handshakeRefusalStatus, isRefusal } from './connection-refused';

describe('handshakeRefusalStatus', () => {
  it('reads 401 and 403 from the ws error event, and nothing from other statuses or opaque browser events', () => {
    expect(handshakeRefusalStatus({ message: 'Unexpected server response: 401' })).toBe(401);
    expect(handshakeRefusalStatus({ error: new Error('Unexpected server response: 403') })).toBe(403);
    expect(handshakeRefusalStatus({ message: 'Unexpected server response: 502' })).toBeUndefined();
    expect(handshakeRefusalStatus({ message: 'connect ECONNREFUSED 127.0.0.1:9' })).toBeUndefined();
    expect(handshakeRefusalStatus({ type: 'error' })).toBeUndefined();
    expect(handshakeRefusalStatus(undefined)).toBeUndefined();
  });

  it('isRefusal knows a refusal by its code, not by which copy of the class made it', () => {
    const foreign = Object.assign(new Error('refused'), { code: 'connection_refused', status: 401 });
    expect([isRefusal(new ConnectionRefusedError(403, 'no')), isRefusal(foreign), isRefusal(new Error('network down'))]).toEqual([true, true, false]);
  });
});
