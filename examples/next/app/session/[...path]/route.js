import { sw } from '../../../lib/ward.js'

// ping, logout, devices, history, events (streamed), the script: the ward's routes
export const { GET, POST, DELETE } = sw.handlers
