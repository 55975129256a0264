// A minimal SCIM 2.0 server around scimmy 1.3.5 for Gatehouse's differential
// tests (internal/scim/differential_test.go). Usage:
//
//   SCIMMY_TOKEN=secret node server.js PORT
//
// It prints "listening <port>" once ready. Storage is an in-memory Map per
// resource type; the only rule the store adds to scimmy is userName
// uniqueness, case-insensitive as RFC 7643 §4.1.1 defines userName, so that
// differences in the tests come from scimmy itself, not from this store.
import http from "node:http";
import crypto from "node:crypto";
import SCIMMY from "scimmy";

const port = Number(process.argv[2] ?? 0);
const token = process.env.SCIMMY_TOKEN ?? "scimmy-token";
const base = "/scim/v2";
const stores = {User: new Map(), Group: new Map()};

const clone = (v) => JSON.parse(JSON.stringify(v));

function egress(kind) {
    return async (resource) => {
        const store = stores[kind];
        if (resource.id) {
            if (!store.has(resource.id)) throw new SCIMMY.Types.Error(404, null, `Resource ${resource.id} not found`);
            return [clone(store.get(resource.id))];
        }
        const all = [...store.values()].map(clone);
        return resource.filter ? resource.filter.match(all) : all;
    };
}

function ingress(kind) {
    return async (resource, instance) => {
        const store = stores[kind];
        const data = clone(instance);
        const now = new Date().toISOString();
        if (kind === "User") {
            for (const [id, u] of store) {
                if (id !== resource.id && String(u.userName).toLowerCase() === String(data.userName).toLowerCase())
                    throw new SCIMMY.Types.Error(409, "uniqueness", `userName ${data.userName} already exists`);
            }
        }
        let id = resource.id, created = now;
        if (id) {
            if (!store.has(id)) throw new SCIMMY.Types.Error(404, null, `Resource ${id} not found`);
            created = store.get(id).meta?.created ?? now;
        } else {
            id = crypto.randomUUID();
        }
        const saved = {...data, id, meta: {...(data.meta ?? {}), created, lastModified: now}};
        store.set(id, saved);
        return clone(saved);
    };
}

function degress(kind) {
    return async (resource) => {
        if (!stores[kind].delete(resource.id)) throw new SCIMMY.Types.Error(404, null, `Resource ${resource.id} not found`);
    };
}

function declare(origin) {
    SCIMMY.Resources.declare(SCIMMY.Resources.User, {
        basepath: origin + base, ingress: ingress("User"), egress: egress("User"), degress: degress("User"),
        extensions: [{schema: SCIMMY.Schemas.EnterpriseUser, required: false}],
    });
    SCIMMY.Resources.declare(SCIMMY.Resources.Group, {
        basepath: origin + base, ingress: ingress("Group"), egress: egress("Group"), degress: degress("Group"),
    });
    SCIMMY.Resources.ServiceProviderConfig.basepath(origin + base);
    SCIMMY.Resources.ResourceType.basepath(origin + base);
    SCIMMY.Resources.Schema.basepath(origin + base);
    SCIMMY.Config.set({patch: true, filter: {supported: true, maxResults: 1000}, sort: true, etag: false, bulk: false, changePassword: false});
}

function send(res, status, body, headers = {}) {
    const payload = body === undefined ? "" : JSON.stringify(body);
    res.writeHead(status, {"Content-Type": "application/scim+json", ...headers});
    res.end(payload);
}

function sendError(res, ex) {
    let err;
    try {
        err = new SCIMMY.Messages.Error(ex instanceof SCIMMY.Types.Error ? ex : {status: 500, message: String(ex?.message ?? ex)});
    } catch (e) {
        err = new SCIMMY.Messages.Error({status: 500, message: String(e?.message ?? e)});
    }
    send(res, Number(err.status), err);
}

function params(url) {
    const out = {};
    for (const [k, v] of url.searchParams) {
        out[k] = (["startIndex", "count"].includes(k) && /^-?\d+$/.test(v)) ? Number(v) : v;
    }
    return out;
}

async function handle(req, res, body) {
    if (req.headers.authorization !== `Bearer ${token}`)
        return send(res, 401, new SCIMMY.Messages.Error({status: 401, message: "bad token"}));
    const url = new URL(req.url, "http://localhost");
    if (!url.pathname.startsWith(base + "/")) return send(res, 404, new SCIMMY.Messages.Error({status: 404, message: "not found"}));
    const [kind, id, ...rest] = url.pathname.slice(base.length + 1).split("/").map(decodeURIComponent);
    const q = params(url);
    let payload;
    if (body.length) {
        try {
            payload = JSON.parse(body);
        } catch (e) {
            throw new SCIMMY.Types.Error(400, "invalidSyntax", `malformed JSON: ${e.message}`);
        }
    }
    if (rest.length) throw new SCIMMY.Types.Error(404, null, "not found");
    switch (kind) {
        case "ServiceProviderConfig":
            return send(res, 200, await new SCIMMY.Resources.ServiceProviderConfig().read());
        case "ResourceTypes":
            return send(res, 200, await (id ? new SCIMMY.Resources.ResourceType(id) : new SCIMMY.Resources.ResourceType()).read());
        case "Schemas":
            return send(res, 200, await (id ? new SCIMMY.Resources.Schema(id) : new SCIMMY.Resources.Schema()).read());
        case "Users":
        case "Groups": {
            const R = kind === "Users" ? SCIMMY.Resources.User : SCIMMY.Resources.Group;
            const make = () => (id ? new R(id, q) : new R(q));
            switch (req.method) {
                case "GET":
                    return send(res, 200, await make().read());
                case "POST": {
                    if (id) throw new SCIMMY.Types.Error(404, null, "not found");
                    const out = await make().write(payload);
                    return send(res, 201, out, {Location: out.meta?.location ?? ""});
                }
                case "PUT":
                    if (!id) throw new SCIMMY.Types.Error(404, null, "not found");
                    return send(res, 200, await make().write(payload));
                case "PATCH": {
                    const out = await make().patch(payload);
                    return out === undefined ? send(res, 204) : send(res, 200, out);
                }
                case "DELETE":
                    await make().dispose();
                    return send(res, 204);
            }
            throw new SCIMMY.Types.Error(404, null, "method not supported");
        }
    }
    throw new SCIMMY.Types.Error(404, null, "not found");
}

const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
        handle(req, res, Buffer.concat(chunks).toString("utf8")).catch((ex) => sendError(res, ex));
    });
});

server.listen(port, "127.0.0.1", () => {
    const p = server.address().port;
    declare(`http://127.0.0.1:${p}`);
    console.log(`listening ${p}`);
});
