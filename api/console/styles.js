// Colours from the Okabe-Ito palette (safe for the common colour-vision deficiencies), darkened
// where white text needs 4.5:1 (WCAG AA); every colour also comes with a text cue (a digit or a
// letter) so nothing is told by colour alone.

export const PRIORITY_STYLE = {
  1: { fill: "#b34700", text: "#ffffff", name: "P1 immediate" },
  2: { fill: "#e69f00", text: "#1b1b1b", name: "P2 urgent" },
  3: { fill: "#f0e442", text: "#1b1b1b", name: "P3 prompt" },
  4: { fill: "#56b4e9", text: "#1b1b1b", name: "P4 routine" },
  5: { fill: "#bbbbbb", text: "#1b1b1b", name: "P5 advice" },
};

export const UNIT_STATUS_STYLE = {
  available: { fill: "#00704f", text: "#ffffff", letter: "A", name: "available" },
  dispatched: { fill: "#0072b2", text: "#ffffff", letter: "D", name: "dispatched" },
  en_route: { fill: "#4b2c85", text: "#ffffff", letter: "E", name: "en route" },
  on_scene: { fill: "#cc79a7", text: "#1b1b1b", letter: "S", name: "on scene" },
  transporting: { fill: "#e69f00", text: "#1b1b1b", letter: "T", name: "transporting" },
  at_hospital: { fill: "#e69f00", text: "#1b1b1b", letter: "H", name: "at hospital" },
  returning: { fill: "#56b4e9", text: "#1b1b1b", letter: "R", name: "returning" },
  out_of_service: { fill: "#666666", text: "#ffffff", letter: "X", name: "out of service" },
};

export const UNIT_STATUSES = Object.keys(UNIT_STATUS_STYLE);
