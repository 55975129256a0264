package app

// features lists the feature wirings, in order. Each feature adds its services,
// routes and background jobs to the App.
var features []Feature
