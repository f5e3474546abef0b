/**
 * FAKE — test support only. The two services a secure cluster setup needs besides Streams:
 * `Gossip.Read`, which `esdb+discover://` asks for the cluster's members before it connects (this
 * node answers as the one live leader), and `Users.Create`/`Update` (admins only), which the ACL
 * setup command uses to create one user per app. Sources in README.md.
 */
import * as grpc from '@grpc/grpc-js';
import { Empty, UUID } from '@eventstore/db-client/generated/shared_pb';
import { IGossipServer } from '@eventstore/db-client/generated/gossip_grpc_pb';
import { ClusterInfo, EndPoint, MemberInfo } from '@eventstore/db-client/generated/gossip_pb';
import { IUsersServer } from '@eventstore/db-client/generated/users_grpc_pb';
import { CreateReq, CreateResp, UpdateReq, UpdateResp } from '@eventstore/db-client/generated/users_pb';
import { accessCallError, EmulatorAccessControl } from './access-control';

const INSTANCE_ID = '00000000-0000-4000-8000-00000000ea5e';

export function createGossipService(self: () => { host: string; port: number }): Partial<IGossipServer> {
  return {
    read(_call: grpc.ServerUnaryCall<Empty, ClusterInfo>, callback: grpc.sendUnaryData<ClusterInfo>) {
      const { host, port } = self();
      const member = new MemberInfo()
        .setInstanceId(new UUID().setString(INSTANCE_ID))
        .setTimeStamp(String(BigInt(Date.now()) * 10_000n))
        .setState(MemberInfo.VNodeState.LEADER)
        .setIsAlive(true)
        .setHttpEndPoint(new EndPoint().setAddress(host).setPort(port));
      callback(null, new ClusterInfo().setMembersList([member]));
    },
  };
}

export function createUsersService(access: EmulatorAccessControl, authentication: boolean): Partial<IUsersServer> {
  const refuse = (metadata: grpc.Metadata): grpc.ServiceError | undefined => {
    if (!authentication) return undefined;
    if (access.authenticate(metadata) === 'bad') return accessCallError('not_authenticated');
    return access.isAdmin(metadata) ? undefined : accessCallError('access_denied');
  };
  return {
    create(call: grpc.ServerUnaryCall<CreateReq, CreateResp>, callback: grpc.sendUnaryData<CreateResp>) {
      const refusal = refuse(call.metadata);
      if (refusal) return callback(refusal);
      const options = call.request.getOptions()!;
      const user = { login: options.getLoginName(), password: options.getPassword(), fullName: options.getFullName(), groups: options.getGroupsList() };
      if (access.createUser(user) === 'exists') return callback(userConflict(user.login));
      callback(null, new CreateResp());
    },
    update(call: grpc.ServerUnaryCall<UpdateReq, UpdateResp>, callback: grpc.sendUnaryData<UpdateResp>) {
      const refusal = refuse(call.metadata);
      if (refusal) return callback(refusal);
      const options = call.request.getOptions()!;
      const user = { login: options.getLoginName(), password: options.getPassword(), fullName: options.getFullName(), groups: options.getGroupsList() };
      if (access.updateUser(user) === 'not_found') return callback(userNotFound(user.login));
      callback(null, new UpdateResp());
    },
  };
}

function userConflict(login: string): grpc.ServiceError {
  const metadata = new grpc.Metadata();
  metadata.set('exception', 'user-conflict');
  metadata.set('login-name', login);
  const details = `User '${login}' already exists.`;
  return Object.assign(new Error(details), { code: grpc.status.FAILED_PRECONDITION, details, metadata }) as grpc.ServiceError;
}

function userNotFound(login: string): grpc.ServiceError {
  const metadata = new grpc.Metadata();
  metadata.set('exception', 'user-not-found');
  metadata.set('login-name', login);
  const details = `User '${login}' is not found.`;
  return Object.assign(new Error(details), { code: grpc.status.NOT_FOUND, details, metadata }) as grpc.ServiceError;
}
