package portal

// OSFamilySQLForTest exposes osFamilySQL to the package's tests.
const OSFamilySQLForTest = osFamilySQL
