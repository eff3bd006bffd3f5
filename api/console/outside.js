// Points outside the area the centre covers, said in words: how far the nearest road of the
// region's map is, in which direction, and what the call-taker can do about it.

import { PATHS } from "./store.js";

const DIRECTIONS = ["north", "north-east", "east", "south-east", "south", "south-west", "west", "north-west"];

/** "850 m" or "1.2 km". */
export function distanceText(metres) {
  return metres < 1000 ? `${Math.round(metres / 10) * 10} m` : `${(metres / 1000).toFixed(1)} km`;
}

/** The compass direction from ``a`` to ``b`` (eight points). */
export function direction(a, b) {
  const kx = Math.cos((a.lat * Math.PI) / 180);
  const angle = Math.atan2((b.lon - a.lon) * kx, b.lat - a.lat); // 0 = north, clockwise
  const k = Math.round((angle / (2 * Math.PI)) * 8 + 8) % 8;
  return DIRECTIONS[k];
}

/**
 * Where ``point`` lies against the region: null when the server has no region or cannot say,
 * else the /v1/region/snap answer ({inside, distance_m, max_snap_m, nearest}).
 */
export async function whereIs(api, point) {
  try {
    return await api.get(PATHS.snap, { lat: point.lat, lon: point.lon });
  } catch {
    return null;
  }
}

/** The sentence a call-taker reads when a point is outside the region's map. */
export function outsideMessage(snap, point, regionName) {
  const far = distanceText(snap.distance_m);
  const way = direction(point, snap.nearest);
  const name = regionName ? regionName[0].toUpperCase() + regionName.slice(1) : null;
  const map = name ? `the ${name} map` : "this centre's map";
  return (
    `Outside the area this centre covers: the point is ${far} from the nearest road on ${map} ` +
    `(a call is placed within ${distanceText(snap.max_snap_m)} of a road). If the address is right, ` +
    `pass the call to the centre that covers it; to send help from here anyway, place it at the ` +
    `nearest road, ${far} ${way}.`
  );
}
