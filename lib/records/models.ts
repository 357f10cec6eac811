// Sequelize models over the gem's four tables, for reading (reports, admin
// tools). Records writes through explicit SQL instead, because it must control
// every byte (datetimes in whole UTC seconds, lock_version bumps) and every
// statement; see records.ts.
import { DataTypes, Model, type InferAttributes, type Sequelize } from 'sequelize';

export class FayeChannel extends Model<InferAttributes<FayeChannel>> {
  declare id: number;
  declare name: string | null;
  declare createdAt: Date;
  declare updatedAt: Date;
}

export class FayeChannelOnlineList extends Model<InferAttributes<FayeChannelOnlineList>> {
  declare id: number;
  declare channelId: number | null;
  /** Raw JSON; read it with parseUserInfoList. */
  declare userInfoList: string | null;
  declare lockVersion: number | null;
  declare createdAt: Date;
  declare updatedAt: Date;
}

export class FayeUserOnlineTime extends Model<InferAttributes<FayeUserOnlineTime>> {
  declare id: number;
  declare userId: number | null;
  /** Raw JSON; read it with parseOnlineTimes. */
  declare onlineTimes: string | null;
  declare lockVersion: number | null;
  declare createdAt: Date;
  declare updatedAt: Date;
}

export class FayeUserLoginLog extends Model<InferAttributes<FayeUserLoginLog>> {
  declare status: number | null;
  declare uid: number | null;
  declare t: Date | null;
  declare channelId: number | null;
  declare clientId: string | null;
}

export interface FayeModels {
  FayeChannel: typeof FayeChannel;
  FayeChannelOnlineList: typeof FayeChannelOnlineList;
  FayeUserOnlineTime: typeof FayeUserOnlineTime;
  FayeUserLoginLog: typeof FayeUserLoginLog;
}

const id = { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true };
const timestamps = {
  createdAt: { type: DataTypes.DATE, allowNull: false, field: 'created_at' },
  updatedAt: { type: DataTypes.DATE, allowNull: false, field: 'updated_at' },
};
const common = { timestamps: false, freezeTableName: true };

/**
 * Defines the models on `sequelize` (once per instance; later calls return the
 * same classes). Each model class can only be bound to one Sequelize instance,
 * so a second instance gets its own subclasses.
 */
export function defineModels(sequelize: Sequelize): FayeModels {
  const known = sequelize.models as Partial<Record<keyof FayeModels, never>>;
  if (known.FayeChannel) return sequelize.models as unknown as FayeModels;
  const channel = class extends FayeChannel {};
  channel.init({ id, name: { type: DataTypes.STRING }, ...timestamps }, { sequelize, modelName: 'FayeChannel', tableName: 'faye_channels', ...common });
  const onlineList = class extends FayeChannelOnlineList {};
  onlineList.init({
    id,
    channelId: { type: DataTypes.INTEGER, field: 'channel_id' },
    userInfoList: { type: DataTypes.TEXT, field: 'user_info_list' },
    lockVersion: { type: DataTypes.INTEGER, field: 'lock_version' },
    ...timestamps,
  }, { sequelize, modelName: 'FayeChannelOnlineList', tableName: 'faye_channel_online_lists', ...common });
  const onlineTime = class extends FayeUserOnlineTime {};
  onlineTime.init({
    id,
    userId: { type: DataTypes.INTEGER, field: 'user_id' },
    onlineTimes: { type: DataTypes.TEXT, field: 'online_times' },
    lockVersion: { type: DataTypes.INTEGER, field: 'lock_version' },
    ...timestamps,
  }, { sequelize, modelName: 'FayeUserOnlineTime', tableName: 'faye_user_online_times', ...common });
  const loginLog = class extends FayeUserLoginLog {};
  loginLog.init({
    status: { type: DataTypes.SMALLINT },
    uid: { type: DataTypes.INTEGER },
    t: { type: DataTypes.DATE },
    channelId: { type: DataTypes.INTEGER, field: 'channel_id' },
    clientId: { type: DataTypes.STRING, field: 'clientId' },
  }, { sequelize, modelName: 'FayeUserLoginLog', tableName: 'faye_user_login_logs', ...common });
  // The table has no primary key (the gem's `:id => false`); Sequelize adds an
  // `id` attribute unless told otherwise.
  loginLog.removeAttribute('id');
  return { FayeChannel: channel, FayeChannelOnlineList: onlineList, FayeUserOnlineTime: onlineTime, FayeUserLoginLog: loginLog };
}
