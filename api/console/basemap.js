// The basemap's MapLibre style: the region's streets (GeoJSON from GET /v1/region/basemap) by
// road class, bridges outlined, street names along the lines.
//
// The style has no "glyphs" URL on purpose: MapLibre GL JS then draws the labels with the
// browser's own sans-serif font (TinySDF), so no font files are fetched from anywhere.

const EMPTY = { type: "FeatureCollection", features: [] };

const MAJOR = ["motorway", "trunk", "primary", "secondary"];

/** Line width in pixels by zoom, for [minor, major] roads. */
function width(minor, major) {
  const w = (z) => ["match", ["get", "class"], MAJOR, major * z, "tertiary", ((minor + major) / 2) * z, minor * z];
  return ["interpolate", ["exponential", 1.6], ["zoom"], 11, w(0.35), 14, w(1), 18, w(5)];
}

const FILL = [
  "match", ["get", "class"],
  "motorway", "#e9a36b",
  "trunk", "#f2bf7a",
  "primary", "#f7d48f",
  "secondary", "#fbe7ad",
  "tertiary", "#fdf3d2",
  "#ffffff",
];

export const BASEMAP_STYLE = {
  version: 8,
  sources: {
    roads: { type: "geojson", data: EMPTY, attribution: "© OpenStreetMap contributors" },
  },
  layers: [
    { id: "land", type: "background", paint: { "background-color": "#eeebe4" } },
    {
      id: "road-casing",
      type: "line",
      source: "roads",
      filter: ["!", ["get", "bridge"]],
      layout: { "line-join": "round", "line-cap": "round" },
      paint: { "line-color": "#b9b3a6", "line-width": width(3.2, 5.2) },
    },
    {
      id: "road",
      type: "line",
      source: "roads",
      filter: ["!", ["get", "bridge"]],
      layout: { "line-join": "round", "line-cap": "round" },
      paint: {
        "line-color": FILL,
        "line-width": width(2.2, 4),
        "line-dasharray": ["case", ["get", "tunnel"], ["literal", [2, 1]], ["literal", [1, 0]]],
      },
    },
    {
      // A bridge: a dark outline drawn over the streets beneath it.
      id: "bridge-casing",
      type: "line",
      source: "roads",
      filter: ["get", "bridge"],
      layout: { "line-join": "round", "line-cap": "butt" },
      paint: { "line-color": "#4a4a4a", "line-width": width(4.4, 6.6) },
    },
    {
      id: "bridge",
      type: "line",
      source: "roads",
      filter: ["get", "bridge"],
      layout: { "line-join": "round", "line-cap": "butt" },
      paint: { "line-color": FILL, "line-width": width(2.2, 4) },
    },
    {
      id: "street-names-major",
      type: "symbol",
      source: "roads",
      minzoom: 11,
      filter: ["all", ["has", "name"], ["!=", ["get", "name"], null], ["match", ["get", "class"], MAJOR, true, false]],
      layout: {
        "symbol-placement": "line",
        "text-field": ["get", "name"],
        "text-font": ["sans-serif"],
        "text-size": ["interpolate", ["linear"], ["zoom"], 11, 10, 17, 14],
        "text-max-angle": 35,
        "symbol-spacing": 320,
      },
      paint: { "text-color": "#3a3226", "text-halo-color": "#ffffff", "text-halo-width": 1.6 },
    },
    {
      id: "street-names",
      type: "symbol",
      source: "roads",
      minzoom: 13,
      filter: ["all", ["has", "name"], ["!=", ["get", "name"], null], ["match", ["get", "class"], MAJOR, false, true]],
      layout: {
        "symbol-placement": "line",
        "text-field": ["get", "name"],
        "text-font": ["sans-serif"],
        "text-size": ["interpolate", ["linear"], ["zoom"], 13, 10, 18, 13],
        "text-max-angle": 35,
        "symbol-spacing": 260,
      },
      paint: { "text-color": "#4a4a4a", "text-halo-color": "#ffffff", "text-halo-width": 1.4 },
    },
  ],
};
