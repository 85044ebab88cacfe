// The criteria builder of the project editor: a loan officer picks credential → claim →
// condition → value, in an "all" or "any" group (with one level of sub-groups), optionally
// limits the issuers per credential type, and tries the rules on a sample borrower. It edits the
// form's criteria field (JSON, the document apps/projects/eligibility.py describes); without
// JavaScript that field is a plain textarea. The node evaluates the sample: the same code that
// will check real borrowers. No library, no build step.
(function () {
  "use strict";

  var OPERATOR_LABELS = {
    "==": "is", "!=": "is not", "<": "is below", "<=": "is at most", ">": "is above",
    ">=": "is at least", "in": "is one of", "not in": "is none of", "present": "is shown"
  };
  var DATE_LABELS = {
    "==": "is on", "!=": "is not on", "<": "is before", "<=": "is on or before",
    ">": "is after", ">=": "is on or after"
  };
  var BIRTH_DATES = { birthDate: true, birthdate: true };
  var MEMBERSHIP = { "in": true, "not in": true };
  var AGES = { age_at_least: true, age_at_most: true };
  var PREVIEW_DELAY_MS = 250;

  // --- small DOM helpers ---------------------------------------------------------------------

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      var value = attrs[name];
      if (value === null || value === undefined || value === false) { return; }
      if (name === "text") { node.textContent = value; }
      else if (name === "className") { node.className = value; }
      else if (value === true) { node.setAttribute(name, ""); }
      else { node.setAttribute(name, value); }
    });
    (children || []).forEach(function (child) {
      if (child === null || child === undefined) { return; }
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function option(value, label, selected) {
    var node = el("option", { value: value, text: label });
    node.selected = !!selected;
    return node;
  }

  function labelled(id, text, control, extraClass) {
    return el("div", { className: "field" + (extraClass ? " " + extraClass : "") }, [
      el("label", { "for": id, text: text }), control
    ]);
  }

  function csrfToken() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  // --- the catalogue -------------------------------------------------------------------------

  function Catalogue(data) {
    this.data = data;
    this.types = {};
    this.order = [];
    var self = this;
    data.types.forEach(function (type) {
      var claims = {};
      type.claims.forEach(function (claim) {
        claim.name = claim.claim.split(".")[0];
        claims[claim.claim] = claim;
      });
      self.types[type.credential] = { slug: type.credential, name: type.name, claims: claims,
        claimOrder: type.claims.map(function (c) { return c.claim; }) };
      self.order.push(type.credential);
    });
  }

  Catalogue.prototype.claim = function (slug, path) {
    var type = this.types[slug];
    if (!type || !path) { return null; }
    if (type.claims[path]) { return type.claims[path]; }
    // A "present" rule names a claim rather than its path ("monthlyIncome", not ".amount").
    for (var i = 0; i < type.claimOrder.length; i++) {
      var claim = type.claims[type.claimOrder[i]];
      if (claim.name === path) { return claim; }
    }
    return null;
  };

  Catalogue.prototype.operators = function (slug, path) {
    var claim = this.claim(slug, path);
    return claim ? claim.operators : ["present"];
  };

  function operatorLabel(claim, op) {
    if (claim && AGES[op]) {
      var most = op === "age_at_most";
      if (BIRTH_DATES[claim.name]) { return most ? "age at most" : "age at least"; }
      return most ? "at most … years ago" : "at least … years ago";
    }
    if (claim && claim.kind === "date" && DATE_LABELS[op]) { return DATE_LABELS[op]; }
    return OPERATOR_LABELS[op] || op;
  }

  // --- the criteria document <-> the builder's state -------------------------------------------

  function Unsupported(message) { this.message = message; }

  function isGroup(node) {
    return node && typeof node === "object" && !Array.isArray(node) && !("credential" in node) &&
      !("op" in node) && Object.keys(node).length === 1 && ("all" in node || "any" in node);
  }

  function ruleFromDocument(catalogue, node) {
    if (!node || typeof node !== "object" || !catalogue.types[node.credential]) {
      throw new Unsupported("a rule the builder does not know");
    }
    var claim = node.claim === undefined ? null : catalogue.claim(node.credential, node.claim);
    if (node.claim !== undefined && !claim) { throw new Unsupported("an unknown claim"); }
    var value = node.value;
    if (claim && MEMBERSHIP[node.op] && Array.isArray(value) && claim.kind !== "country") {
      value = value.join(", ");
    } else if (typeof value === "number") {
      value = String(value);
    }
    return {
      kind: "rule", credential: node.credential, claim: claim ? claim.claim : "",
      op: node.op || "present", value: value === undefined ? "" : value,
      currency: node.currency || ""
    };
  }

  function fromDocument(catalogue, document_) {
    if (!document_ || (typeof document_ === "object" && !Object.keys(document_).length)) {
      return { mode: "all", items: [], issuers: {} };
    }
    var mode = "all" in document_ ? "all" : ("any" in document_ ? "any" : null);
    if (!mode || !Array.isArray(document_[mode])) { throw new Unsupported("no all/any group"); }
    var items = document_[mode].map(function (node) {
      if (!isGroup(node)) { return ruleFromDocument(catalogue, node); }
      var groupMode = "all" in node ? "all" : "any";
      if (!Array.isArray(node[groupMode])) { throw new Unsupported("a malformed group"); }
      return {
        kind: "group", mode: groupMode,
        items: node[groupMode].map(function (child) {
          if (isGroup(child)) { throw new Unsupported("groups nested more than one level"); }
          return ruleFromDocument(catalogue, child);
        })
      };
    });
    var issuers = {};
    var given = document_.issuers || {};
    Object.keys(given).forEach(function (slug) {
      issuers[slug] = Array.isArray(given[slug]) ? given[slug].slice() : [];
    });
    return { mode: mode, items: items, issuers: issuers };
  }

  function whole(text) {
    var trimmed = String(text).trim();
    return /^[0-9]{1,9}$/.test(trimmed) ? parseInt(trimmed, 10) : text;
  }

  function ruleToDocument(catalogue, rule) {
    if (!rule.claim) { return { credential: rule.credential, op: "present" }; }
    var claim = catalogue.claim(rule.credential, rule.claim);
    var out = { credential: rule.credential, claim: claim.claim, op: rule.op };
    if (rule.op === "present") { return out; }
    var value = rule.value;
    if (AGES[rule.op] || claim.kind === "count") {
      value = MEMBERSHIP[rule.op] ? value : whole(value);
    }
    if (MEMBERSHIP[rule.op]) {
      if (claim.kind === "country") {
        value = Array.isArray(value) ? value : (value ? [value] : []);
      } else {
        value = String(Array.isArray(value) ? value.join(",") : value).split(",")
          .map(function (v) { return v.trim(); })
          .filter(function (v) { return v; });
      }
    } else if (Array.isArray(value)) {
      value = value[0] || "";
    } else if (typeof value === "string") {
      value = value.trim();
    }
    out.value = value;
    if (claim.currency) { out.currency = rule.currency; }
    return out;
  }

  function rulesOf(state) {
    var rules = [];
    state.items.forEach(function (item) {
      if (item.kind === "rule") { rules.push(item); }
      else { item.items.forEach(function (rule) { rules.push(rule); }); }
    });
    return rules;
  }

  function toDocument(catalogue, state) {
    var rules = rulesOf(state);
    if (!rules.length) { return null; }
    var doc = {};
    doc[state.mode] = state.items.filter(function (item) {
      return item.kind === "rule" || item.items.length;
    }).map(function (item) {
      if (item.kind === "rule") { return ruleToDocument(catalogue, item); }
      var group = {};
      group[item.mode] = item.items.map(function (rule) { return ruleToDocument(catalogue, rule); });
      return group;
    });
    var used = {};
    rules.forEach(function (rule) { used[rule.credential] = true; });
    var issuers = {};
    Object.keys(state.issuers).forEach(function (slug) {
      var dids = state.issuers[slug].filter(function (d) { return d; });
      if (used[slug] && dids.length) { issuers[slug] = dids; }
    });
    if (Object.keys(issuers).length) { doc.issuers = issuers; }
    return doc;
  }

  // --- the builder -----------------------------------------------------------------------------

  function Builder(root) {
    this.root = root;
    this.field = document.getElementById(root.dataset.field);
    this.fallback = root.parentNode.querySelector("[data-criteria-fallback]");
    this.catalogue = new Catalogue(
      JSON.parse(document.getElementById(root.dataset.catalogue).textContent));
    this.previewUrl = root.dataset.previewUrl;
    this.samples = {};
    this.previewTimer = null;
    this.previewSequence = 0;
    this.ids = 0;
  }

  Builder.prototype.start = function () {
    var text = this.field.value.trim();
    var parsed = null;
    try {
      parsed = text ? JSON.parse(text) : null;
      this.state = fromDocument(this.catalogue, parsed);
    } catch (err) {
      // The JSON stays editable as text; the form reports what is wrong when it is saved.
      var why = err instanceof Unsupported ? err.message : "text that is not valid JSON";
      this.root.hidden = false;
      this.root.appendChild(el("p", {
        className: "warning",
        text: "These criteria use " + why + ", which the builder cannot show: edit them as " +
          "JSON below, or empty the field to start again with the builder."
      }));
      return;
    }
    this.fallback.hidden = true;
    this.root.hidden = false;
    this.render();
    this.sync();
  };

  Builder.prototype.nextId = function (prefix) {
    this.ids += 1;
    return "criteria-" + prefix + "-" + this.ids;
  };

  Builder.prototype.defaultCurrency = function () {
    var select = document.querySelector("#project-form [name=currency]");
    return (select && select.value) || "KES";
  };

  Builder.prototype.newRule = function () {
    var slug = this.catalogue.order[0];
    var type = this.catalogue.types[slug];
    var claim = type.claims[type.claimOrder[0]];
    return { kind: "rule", credential: slug, claim: claim.claim, op: claim.operators[0],
      value: "", currency: claim.currency ? this.defaultCurrency() : "" };
  };

  Builder.prototype.changed = function (structure) {
    if (structure) { this.render(); }
    this.sync();
  };

  Builder.prototype.sync = function () {
    var doc = toDocument(this.catalogue, this.state);
    this.field.value = doc ? JSON.stringify(doc) : "";
    if (this.jsonView) { this.jsonView.textContent = doc ? JSON.stringify(doc, null, 2) : "{}"; }
    this.schedulePreview();
  };

  // Re-rendering keeps the focus on the control the officer was using.
  Builder.prototype.render = function () {
    var active = document.activeElement;
    var focusKey = active && this.root.contains(active) ? active.dataset.focusKey : null;
    this.ids = 0;
    this.root.textContent = "";
    this.root.appendChild(this.renderRules());
    this.root.appendChild(this.renderIssuers());
    this.root.appendChild(this.renderPreview());
    var json = el("details", { className: "criteria-json" }, [
      el("summary", { text: "The criteria as JSON (what other nodes see)" })
    ]);
    this.jsonView = el("pre", {});
    json.appendChild(this.jsonView);
    this.root.appendChild(json);
    if (focusKey) {
      var again = this.root.querySelector('[data-focus-key="' + focusKey + '"]');
      if (again) { again.focus(); }
    }
  };

  Builder.prototype.modeSelect = function (holder, label, key) {
    var self = this;
    var id = this.nextId("mode");
    var select = el("select", { id: id, "data-focus-key": key }, [
      option("all", "all of these rules", holder.mode === "all"),
      option("any", "any one of these rules", holder.mode === "any")
    ]);
    select.addEventListener("change", function () { holder.mode = select.value; self.changed(); });
    return labelled(id, label, select, "criteria-mode");
  };

  Builder.prototype.renderRules = function () {
    var self = this;
    var section = el("div", { className: "criteria-rules" });
    section.appendChild(this.modeSelect(this.state, "A borrower must meet", "mode-root"));
    var list = el("div", { className: "criteria-items" });
    var number = 0;
    this.state.items.forEach(function (item, index) {
      if (item.kind === "rule") {
        number += 1;
        list.appendChild(self.renderRule(item, number, self.state.items, index, "r" + index));
        return;
      }
      var group = el("fieldset", { className: "criteria-group", "data-group-index": index });
      group.appendChild(el("legend", { text: "Group" }));
      group.appendChild(self.modeSelect(item, "This group is met by", "mode-g" + index));
      item.items.forEach(function (rule, inner) {
        number += 1;
        group.appendChild(
          self.renderRule(rule, number, item.items, inner, "g" + index + "r" + inner));
      });
      var addInGroup = el("button", { type: "button", className: "secondary small",
        text: "Add a rule to this group", "data-focus-key": "add-g" + index });
      addInGroup.addEventListener("click", function () {
        item.items.push(self.newRule());
        self.changed(true);
      });
      var removeGroup = el("button", { type: "button", className: "link-button",
        text: "Remove this group" });
      removeGroup.addEventListener("click", function () {
        self.state.items.splice(index, 1);
        self.changed(true);
      });
      group.appendChild(el("p", { className: "actions" }, [addInGroup, removeGroup]));
      list.appendChild(group);
    });
    if (!this.state.items.length) {
      list.appendChild(el("p", { className: "muted",
        text: "No rule yet: anyone your team accepts may apply." }));
    }
    section.appendChild(list);
    var addRule = el("button", { type: "button", className: "secondary", text: "Add a rule",
      "data-focus-key": "add-rule" });
    addRule.addEventListener("click", function () {
      self.state.items.push(self.newRule());
      self.changed(true);
    });
    var addGroup = el("button", { type: "button", className: "secondary",
      text: "Add a group (all of / any of)", "data-focus-key": "add-group" });
    addGroup.addEventListener("click", function () {
      self.state.items.push({ kind: "group", mode: "any", items: [self.newRule()] });
      self.changed(true);
    });
    section.appendChild(el("p", { className: "actions" }, [addRule, addGroup]));
    return section;
  };

  Builder.prototype.renderRule = function (rule, number, container, index, key) {
    var self = this;
    var catalogue = this.catalogue;
    var type = catalogue.types[rule.credential];
    var claim = catalogue.claim(rule.credential, rule.claim);
    var box = el("fieldset", { className: "criteria-rule", "data-rule-number": number });
    box.appendChild(el("legend", { text: "Rule " + number }));
    var row = el("div", { className: "criteria-row" });

    var credentialId = this.nextId("credential");
    var credential = el("select", { id: credentialId, "data-focus-key": key + "-credential" },
      catalogue.order.map(function (slug) {
        return option(slug, catalogue.types[slug].name, slug === rule.credential);
      }));
    credential.addEventListener("change", function () {
      var fresh = catalogue.types[credential.value];
      var first = fresh.claims[fresh.claimOrder[0]];
      rule.credential = credential.value;
      rule.claim = first.claim;
      rule.op = first.operators[0];
      rule.value = "";
      rule.currency = first.currency ? self.defaultCurrency() : "";
      self.changed(true);
    });
    row.appendChild(labelled(credentialId, "Credential", credential));

    var claimId = this.nextId("claim");
    var claimOptions = [option("", "(holds one)", !rule.claim)].concat(
      type.claimOrder.map(function (path) {
        return option(path, type.claims[path].label, claim && claim.claim === path);
      }));
    var claimSelect = el("select", { id: claimId, "data-focus-key": key + "-claim" },
      claimOptions);
    claimSelect.addEventListener("change", function () {
      var chosen = catalogue.claim(rule.credential, claimSelect.value);
      rule.claim = claimSelect.value;
      rule.op = chosen ? chosen.operators[0] : "present";
      rule.value = "";
      rule.currency = chosen && chosen.currency ? self.defaultCurrency() : "";
      self.changed(true);
    });
    row.appendChild(labelled(claimId, "Claim", claimSelect));

    var opId = this.nextId("op");
    var operators = catalogue.operators(rule.credential, rule.claim);
    var opSelect = el("select", { id: opId, "data-focus-key": key + "-op" },
      operators.map(function (op) { return option(op, operatorLabel(claim, op), op === rule.op); }));
    opSelect.addEventListener("change", function () {
      var wasList = !!MEMBERSHIP[rule.op];
      rule.op = opSelect.value;
      if (wasList !== !!MEMBERSHIP[rule.op] || AGES[rule.op]) { rule.value = ""; }
      self.changed(true);
    });
    row.appendChild(labelled(opId, "Condition", opSelect));

    if (claim && rule.op !== "present") {
      row.appendChild(this.valueWidget(rule, claim, key));
      if (claim.currency) {
        var currencyId = this.nextId("currency");
        var currency = el("select", { id: currencyId, "data-focus-key": key + "-currency" },
          this.catalogue.data.currencies.map(function (code) {
            return option(code, code, code === rule.currency);
          }));
        currency.addEventListener("change", function () {
          rule.currency = currency.value;
          self.changed();
        });
        row.appendChild(labelled(currencyId, "Currency", currency, "narrow-field"));
      }
    }
    box.appendChild(row);
    var remove = el("button", { type: "button", className: "link-button",
      text: "Remove rule " + number });
    remove.addEventListener("click", function () {
      container.splice(index, 1);
      self.changed(true);
    });
    box.appendChild(el("p", {}, [remove]));
    return box;
  };

  Builder.prototype.valueWidget = function (rule, claim, key) {
    var self = this;
    var id = this.nextId("value");
    var control;
    var help = null;
    var countries = this.catalogue.data.countries;
    if (claim.kind === "country") {
      var multiple = !!MEMBERSHIP[rule.op];
      var chosen = Array.isArray(rule.value) ? rule.value : (rule.value ? [rule.value] : []);
      var options = (multiple ? [] : [option("", "Choose a country", !chosen.length)]).concat(
        countries.map(function (c) {
          return option(c[0], c[1] + " (" + c[0] + ")", chosen.indexOf(c[0]) >= 0);
        }));
      control = el("select", { id: id, multiple: multiple, size: multiple ? 6 : null,
        "data-focus-key": key + "-value" }, options);
      if (multiple) { help = "Hold Ctrl (or ⌘) to choose several."; }
      control.addEventListener("change", function () {
        rule.value = multiple ? Array.prototype.filter.call(control.options, function (o) {
          return o.selected;
        }).map(function (o) { return o.value; }) : control.value;
        self.changed();
      });
    } else {
      var attrs = { id: id, "data-focus-key": key + "-value", autocomplete: "off" };
      if (AGES[rule.op]) {
        attrs.type = "number"; attrs.min = "0"; attrs.max = "150"; attrs.inputmode = "numeric";
        help = "Whole years.";
      } else if (claim.kind === "date") {
        attrs.type = "date";
      } else if (claim.kind === "count") {
        attrs.type = "number"; attrs.min = "0"; attrs.inputmode = "numeric";
      } else if (claim.kind === "decimal" || claim.kind === "money") {
        attrs.type = "text"; attrs.inputmode = "decimal";
        help = claim.kind === "money" ? "An amount such as 150.00." : "A number such as 2.5.";
      } else {
        attrs.type = "text";
      }
      if (MEMBERSHIP[rule.op]) { help = "Separate the values with commas."; }
      control = el("input", attrs);
      control.value = Array.isArray(rule.value) ? rule.value.join(", ") : rule.value;
      control.addEventListener("input", function () {
        rule.value = control.value;
        self.changed();
      });
    }
    var field = labelled(id, AGES[rule.op] ? "Years" : "Value", control);
    if (help) { field.appendChild(el("small", { className: "help", text: help })); }
    return field;
  };

  Builder.prototype.usedTypes = function () {
    var seen = {};
    var used = [];
    rulesOf(this.state).forEach(function (rule) {
      if (!seen[rule.credential]) { seen[rule.credential] = true; used.push(rule.credential); }
    });
    return used;
  };

  Builder.prototype.renderIssuers = function () {
    var self = this;
    var used = this.usedTypes();
    var known = this.catalogue.data.issuers;
    var details = el("details", { className: "criteria-issuers" }, [
      el("summary", { text: "Accept credentials only from some issuers (optional)" })
    ]);
    if (used.some(function (slug) { return (self.state.issuers[slug] || []).length; })) {
      details.open = true;
    }
    if (!used.length) {
      details.appendChild(el("p", { className: "muted", text: "Add a rule first." }));
      return details;
    }
    details.appendChild(el("p", { className: "muted",
      text: "With nothing chosen, a credential from any issuer this node trusts counts." }));
    used.forEach(function (slug) {
      var chosen = self.state.issuers[slug] || (self.state.issuers[slug] = []);
      var box = el("fieldset", { className: "claims-choice", "data-issuers": slug }, [
        el("legend", { text: self.catalogue.types[slug].name + " credentials from" })
      ]);
      known.forEach(function (issuer) {
        var id = self.nextId("issuer");
        var check = el("input", { type: "checkbox", id: id, value: issuer.did,
          "data-focus-key": "issuer-" + slug + "-" + issuer.did });
        check.checked = chosen.indexOf(issuer.did) >= 0;
        check.addEventListener("change", function () {
          var at = chosen.indexOf(issuer.did);
          if (check.checked && at < 0) { chosen.push(issuer.did); }
          if (!check.checked && at >= 0) { chosen.splice(at, 1); }
          self.changed();
        });
        box.appendChild(el("label", { className: "check", "for": id }, [check,
          el("span", { text: issuer.label })]));
      });
      var knownDids = known.map(function (i) { return i.did; });
      var others = chosen.filter(function (did) { return knownDids.indexOf(did) < 0; });
      var otherId = self.nextId("issuer-other");
      var other = el("textarea", { id: otherId, rows: 2, spellcheck: "false",
        "data-focus-key": "issuer-other-" + slug });
      other.value = others.join("\n");
      other.addEventListener("input", function () {
        var fresh = other.value.split(/\s+/).filter(function (d) { return d; });
        var kept = chosen.filter(function (did) { return knownDids.indexOf(did) >= 0; });
        chosen.length = 0;
        kept.concat(fresh).forEach(function (did) { chosen.push(did); });
        self.changed();
      });
      box.appendChild(labelled(otherId, "Other issuers (DIDs, one per line)", other));
      details.appendChild(box);
    });
    return details;
  };

  // --- the live preview ------------------------------------------------------------------------

  Builder.prototype.sample = function (slug) {
    if (!this.samples[slug]) { this.samples[slug] = { held: true, values: {} }; }
    return this.samples[slug];
  };

  Builder.prototype.usedClaims = function (slug) {
    var seen = {};
    var claims = [];
    var catalogue = this.catalogue;
    rulesOf(this.state).forEach(function (rule) {
      if (rule.credential !== slug || !rule.claim) { return; }
      var claim = catalogue.claim(slug, rule.claim);
      if (claim && !seen[claim.name]) { seen[claim.name] = true; claims.push(claim); }
    });
    return claims;
  };

  Builder.prototype.applyPreset = function (preset) {
    var self = this;
    this.catalogue.order.forEach(function (slug) {
      var claims = preset.claims[slug];
      var sample = self.sample(slug);
      sample.held = !!claims;
      sample.values = {};
      Object.keys(claims || {}).forEach(function (name) {
        var value = claims[name];
        if (value && typeof value === "object") {
          sample.values[name] = value.amount;
          sample.values[name + ".currency"] = value.currency;
        } else {
          sample.values[name] = String(value);
        }
      });
    });
    this.render();
    this.schedulePreview();
  };

  Builder.prototype.sampleInput = function (slug, claim) {
    var self = this;
    var sample = this.sample(slug);
    var id = this.nextId("sample");
    var key = "sample-" + slug + "-" + claim.name;
    var value = sample.values[claim.name] || "";
    var control;
    if (claim.kind === "country") {
      control = el("select", { id: id, "data-focus-key": key },
        [option("", "Not shown", !value)].concat(this.catalogue.data.countries.map(function (c) {
          return option(c[0], c[1], c[0] === value);
        })));
    } else {
      var type = claim.kind === "date" ? "date" : (claim.kind === "count" ? "number" : "text");
      control = el("input", { id: id, type: type, autocomplete: "off", "data-focus-key": key });
      control.value = value;
    }
    var update = function () {
      sample.values[claim.name] = control.value;
      self.schedulePreview();
    };
    control.addEventListener("input", update);
    control.addEventListener("change", update);
    var field = labelled(id, claim.label, control);
    if (claim.currency) {
      var currencyId = this.nextId("sample-currency");
      var current = sample.values[claim.name + ".currency"] || this.defaultCurrency();
      sample.values[claim.name + ".currency"] = current;
      var currency = el("select", { id: currencyId, "data-focus-key": key + "-currency" },
        this.catalogue.data.currencies.map(function (code) {
          return option(code, code, code === current);
        }));
      currency.addEventListener("change", function () {
        sample.values[claim.name + ".currency"] = currency.value;
        self.schedulePreview();
      });
      return el("div", { className: "criteria-row" },
        [field, labelled(currencyId, "Currency", currency, "narrow-field")]);
    }
    return field;
  };

  Builder.prototype.renderPreview = function () {
    var self = this;
    var section = el("section", { className: "criteria-preview",
      "aria-labelledby": "criteria-preview-heading" }, [
      el("h3", { id: "criteria-preview-heading", text: "Try the rules on a sample borrower" })
    ]);
    var used = this.usedTypes();
    if (!used.length) {
      section.appendChild(el("p", { className: "muted", text: "Add a rule to try it." }));
      this.resultBox = null;
      return section;
    }
    var presets = el("p", { className: "actions" }, [el("span", { text: "Fill in: " })]);
    this.catalogue.data.presets.forEach(function (preset) {
      var button = el("button", { type: "button", className: "secondary small",
        text: preset.label });
      button.addEventListener("click", function () { self.applyPreset(preset); });
      presets.appendChild(button);
    });
    section.appendChild(presets);
    var samples = el("div", { className: "grid two" });
    used.forEach(function (slug) {
      var sample = self.sample(slug);
      var name = self.catalogue.types[slug].name;
      var box = el("fieldset", { className: "claims-choice", "data-sample": slug }, [
        el("legend", { text: "Sample " + name + " credential" })
      ]);
      var heldId = self.nextId("held");
      var held = el("input", { type: "checkbox", id: heldId,
        "data-focus-key": "held-" + slug });
      held.checked = sample.held;
      var inputs = el("div", { hidden: !sample.held });
      held.addEventListener("change", function () {
        sample.held = held.checked;
        inputs.hidden = !held.checked;
        self.schedulePreview();
      });
      box.appendChild(el("label", { className: "check", "for": heldId }, [held,
        el("span", { text: "The borrower holds one" })]));
      self.usedClaims(slug).forEach(function (claim) {
        inputs.appendChild(self.sampleInput(slug, claim));
      });
      box.appendChild(inputs);
      samples.appendChild(box);
    });
    section.appendChild(samples);
    section.appendChild(el("p", { className: "muted",
      text: "An empty claim counts as not shown; sample credentials count as coming from an " +
        "issuer the rules accept." }));
    this.resultBox = el("div", { id: "criteria-preview-result", className: "criteria-result",
      role: "status", "aria-live": "polite" });
    section.appendChild(this.resultBox);
    return section;
  };

  Builder.prototype.sampleClaims = function () {
    var self = this;
    var claims = {};
    var issuers = {};
    this.usedTypes().forEach(function (slug) {
      var sample = self.sample(slug);
      if (!sample.held) { return; }
      var shown = {};
      self.catalogue.types[slug].claimOrder.forEach(function (path) {
        var claim = self.catalogue.types[slug].claims[path];
        var value = sample.values[claim.name];
        if (value === undefined || value === "") { return; }
        if (claim.currency) {
          shown[claim.name] = { amount: value.trim(),
            currency: sample.values[claim.name + ".currency"] || self.defaultCurrency() };
        } else if (claim.kind === "count") {
          shown[claim.name] = whole(value);
        } else {
          shown[claim.name] = value.trim();
        }
      });
      claims[slug] = shown;
      var accepted = (self.state.issuers[slug] || []).filter(function (d) { return d; });
      if (accepted.length) { issuers[slug] = accepted[0]; }
    });
    return { claims: claims, issuers: issuers };
  };

  Builder.prototype.schedulePreview = function () {
    var self = this;
    if (this.previewTimer) { clearTimeout(this.previewTimer); }
    this.previewTimer = setTimeout(function () { self.preview(); }, PREVIEW_DELAY_MS);
  };

  Builder.prototype.preview = function () {
    var self = this;
    var box = this.resultBox;
    var criteria = toDocument(this.catalogue, this.state);
    if (!box || !criteria) { return; }
    var sample = this.sampleClaims();
    var sequence = ++this.previewSequence;
    box.setAttribute("aria-busy", "true");
    fetch(this.previewUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify({ criteria: criteria, claims: sample.claims, issuers: sample.issuers })
    }).then(function (response) {
      var json = (response.headers.get("Content-Type") || "").indexOf("application/json") === 0;
      if (!json) { throw new Error("The node answered with a page: sign in again."); }
      return response.json().then(function (data) { return { ok: response.ok, data: data }; });
    }).then(function (answer) {
      if (sequence !== self.previewSequence || box !== self.resultBox) { return; }
      self.showResult(box, answer);
    }).catch(function (err) {
      if (sequence !== self.previewSequence) { return; }
      box.textContent = "";
      box.appendChild(el("p", { className: "form-errors", text: err.message || String(err) }));
    }).then(function () { box.removeAttribute("aria-busy"); });
  };

  Builder.prototype.showResult = function (box, answer) {
    box.textContent = "";
    var data = answer.data;
    if (!answer.ok) {
      box.setAttribute("data-preview", "invalid");
      box.appendChild(el("div", { className: "form-errors" }, [
        el("p", { text: "These rules cannot be used yet:" }),
        el("ul", {}, (data.errors || ["The node refused them."]).map(function (message) {
          return el("li", { text: message });
        }))
      ]));
      return;
    }
    box.setAttribute("data-preview", data.eligible ? "eligible" : "not-eligible");
    box.appendChild(el("p", { className: data.eligible ? "eligibility eligibility-yes" :
      "eligibility eligibility-no", text: data.eligible ? "This borrower qualifies." :
      "This borrower does not qualify." }));
    box.appendChild(el("ul", { className: "rules" }, data.rules.map(function (rule) {
      return el("li", { "data-preview-rule": rule.number, "data-status": rule.status }, [
        el("span", { className: "badge badge-rule-" + rule.status, text: rule.label }),
        " Rule " + rule.number + ": " + rule.reason
      ]);
    })));
    if (data.description && data.description.length) {
      box.appendChild(el("p", { className: "muted", text: "In plain words, as borrowers read " +
        "them: " + data.description.map(function (line) { return line.trim(); }).join("; ") }));
    }
  };

  function init() {
    var roots = document.querySelectorAll("[data-criteria-builder]");
    for (var i = 0; i < roots.length; i++) {
      new Builder(roots[i]).start();
    }
  }

  // For tests and the curious: the document conversions, without a page.
  window.growrCriteria = { Catalogue: Catalogue, fromDocument: fromDocument,
    toDocument: toDocument };
  init();
})();
