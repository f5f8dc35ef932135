//! Putting the deals of two scenario files side by side, for paired comparison across files:
//! their worlds compared key by key, and the second file's deals moved onto the first's world
//! where the worlds are the same.

use std::collections::BTreeMap;

use super::{CoinId, Curve, Deal, EventTiming, Identity, InputId, JumpSize, LatentId, OtherWorld, Scalar, Scenario};

/// What two scenario files' worlds say differently, key by key: each entry is a key path with
/// the first file's value and the second's ("absent" where one has no such key).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorldDifferences(pub Vec<(String, String, String)>);

impl WorldDifferences {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The first dozen differences, one an indented line (`key: first | second`), and how many
    /// more there are.
    pub fn listed(&self) -> String {
        let listed: Vec<String> =
            self.0.iter().take(12).map(|(key, first, second)| format!("  {key}: {first} | {second}")).collect();
        let more = self.0.len().saturating_sub(listed.len());
        let more = if more > 0 { format!("\n  and {more} more") } else { String::new() };
        format!("{}{more}", listed.join("\n"))
    }
}

/// Why two files' deals cannot be paired at all: the periods or the path count differ.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the two scenarios cannot be paired path by path and period by period: {}", describe(.0))]
pub struct NotPairable(pub WorldDifferences);

fn describe(differences: &WorldDifferences) -> String {
    let listed: Vec<String> = differences
        .0
        .iter()
        .map(|(key, first, second)| format!("{key} is {first} in the first and {second} in the second"))
        .collect();
    listed.join("; ")
}

/// Every value of a scenario's world by key path, written the same way whichever file it came
/// from: what `compare` checks key by key.
pub fn world_values(scenario: &Scenario) -> BTreeMap<String, String> {
    let mut values = BTreeMap::new();
    let scalar = |value: Scalar| match value {
        Scalar::Const(value) => format!("{value}"),
        Scalar::Input(id) => {
            let input = &scenario.inputs[id];
            format!("{} drawn as {}", input.distribution.describe(), scenario.latents[input.latent].name)
        }
    };
    let curve = |curve: &Curve| match curve {
        Curve::Flat(value) => scalar(*value),
        Curve::Trajectory { start, end, half_life, .. } => {
            format!("{} to {} with half-life {half_life}", scalar(*start), scalar(*end))
        }
        Curve::Schedule { dates, values, .. } => {
            let steps: Vec<String> =
                dates.iter().zip(values).map(|(date, value)| format!("{date}: {}", scalar(*value))).collect();
            format!("schedule {{{}}}", steps.join(", "))
        }
    };
    let party = |id: usize| scenario.parties[id].name.clone();
    let mut put = |key: String, value: String| {
        values.insert(key, value);
    };
    for p in &scenario.parties {
        let key = format!("parties.{}", p.name);
        put(format!("{key}.discount_rate"), format!("{}", p.discount_rate));
        put(format!("{key}.initial_cash"), p.initial_cash.map_or("absent".into(), scalar));
        put(format!("{key}.other_costs"), p.other_costs.as_ref().map_or("absent".into(), curve));
    }
    for s in &scenario.streams {
        let key = format!("streams.{}", s.name);
        put(format!("{key}.owner"), party(s.owner));
        put(format!("{key}.initial"), scalar(s.initial));
        put(format!("{key}.growth"), curve(&s.growth));
        put(format!("{key}.volatility"), curve(&s.volatility));
        let jumps = s.jumps.as_ref().map_or("absent".into(), |jumps| {
            let size = match &jumps.log_size {
                JumpSize::Fixed(size) => format!("{size}"),
                JumpSize::Random(distribution) => distribution.describe(),
            };
            format!("rate {}, log size {size}", scalar(jumps.annual_rate))
        });
        put(format!("{key}.jumps"), jumps);
        for c in &s.channels {
            put(format!("{key}.channels.{}.share", c.name), curve(&c.share));
        }
    }
    if let Some(compute) = &scenario.compute {
        put("compute.stream".into(), scenario.streams[compute.stream].name.clone());
        put("compute.cost_ratio".into(), curve(&compute.cost_ratio));
        for p in &compute.providers {
            let key = format!("compute.providers.{}", p.name);
            put(format!("{key}.owner"), party(p.owner));
            put(format!("{key}.margin"), curve(&p.margin));
            put(format!("{key}.share"), curve(&p.share));
        }
        let channels = &scenario.streams[compute.stream].channels;
        for route in &compute.routes {
            for &(p, ref share) in &route.providers {
                let key =
                    format!("compute.routes.{}.providers.{}", channels[route.channel].name, compute.providers[p].name);
                put(key, curve(share));
            }
        }
    }
    if let Some(valuation) = &scenario.valuation {
        put("valuation.company".into(), party(valuation.company));
        put("valuation.stream".into(), scenario.streams[valuation.stream].name.clone());
        put("valuation.multiple".into(), curve(&valuation.multiple));
    }
    let grid = scenario.grid();
    for e in &scenario.events {
        let timing = match e.timing {
            EventTiming::Dated { period, probability } => {
                format!("in {} with probability {}", grid.label(period), scalar(probability))
            }
            EventTiming::Hazard { annual_rate, first, last } => {
                format!("hazard {} a year from {} through {}", scalar(annual_rate), grid.label(first), grid.label(last))
            }
            EventTiming::Outcome { of, .. } => format!("an outcome of {}", scenario.events[of].name),
        };
        for &(weight, outcome) in &e.outcomes {
            put(format!("events.{}.weight", scenario.events[outcome].name), scalar(weight));
        }
        put(format!("events.{}", e.name), timing);
    }
    for c in &scenario.correlations {
        let mut pair = c.between.map(|latent| scenario.latents[latent].name.clone());
        pair.sort();
        put(format!("correlation of {} and {}", pair[0], pair[1]), format!("{}", c.rank));
    }
    values
}

/// The keys at which two worlds differ.
pub fn world_differences(first: &Scenario, second: &Scenario) -> WorldDifferences {
    let (a, b) = (world_values(first), world_values(second));
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    let absent = "absent".to_string();
    WorldDifferences(
        keys.into_iter()
            .filter(|key| a.get(*key) != b.get(*key))
            .map(|key| (key.clone(), a.get(key).unwrap_or(&absent).clone(), b.get(key).unwrap_or(&absent).clone()))
            .collect(),
    )
}

/// Checks that two files can be paired path by path: the same periods, seed and path count.
pub fn check_pairable(first: &Scenario, second: &Scenario) -> Result<(), NotPairable> {
    let (a, b) = (&first.simulation, &second.simulation);
    let mut differences = Vec::new();
    let mut differ = |key: &str, first: String, second: String| {
        if first != second {
            differences.push((key.to_string(), first, second));
        }
    };
    differ("simulation.start", a.grid.start_year.to_string(), b.grid.start_year.to_string());
    differ("simulation.years", a.grid.years.to_string(), b.grid.years.to_string());
    differ("simulation.steps_per_year", a.grid.steps_per_year.to_string(), b.grid.steps_per_year.to_string());
    differ("simulation.seed (pass --seed to use one for both)", a.seed.to_string(), b.seed.to_string());
    differ("simulation.paths (pass --paths to use one count for both)", a.paths.to_string(), b.paths.to_string());
    if differences.is_empty() { Ok(()) } else { Err(NotPairable(WorldDifferences(differences))) }
}

/// Why the deals of two files cannot be paired; `files` names the two files.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PairError {
    #[error("{files}: {source}")]
    NotPairable { files: String, source: NotPairable },
    #[error(
        "{files}: the parties differ, so their deals cannot be paired party by party: {first} in the first, \
         {second} in the second (both files must name the same parties in the same order)"
    )]
    PartiesDiffer { files: String, first: String, second: String },
}

/// Two files' deals side by side, for a paired comparison: [`combine`] once the files are
/// checked to be pairable. Where their worlds differ (see [`world_differences`]), each file's
/// deals run on that file's own world, both drawn from the same keyed random numbers. `files`
/// names them in an error.
pub fn pair(
    first: &Scenario,
    second: &Scenario,
    files: &str,
    first_label: &str,
    label: &str,
) -> Result<Scenario, PairError> {
    check_pairable(first, second).map_err(|source| PairError::NotPairable { files: files.to_string(), source })?;
    let names = |scenario: &Scenario| scenario.parties.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(", ");
    if names(first) != names(second) {
        return Err(PairError::PartiesDiffer { files: files.to_string(), first: names(first), second: names(second) });
    }
    Ok(combine(first, second, first_label, label))
}

/// The first scenario with the second's deals added after its own. Deals of the second whose
/// names the first already uses are renamed `<label>/<name>`. An input of the second is the
/// first's where both have the same identity and distribution; latents and coins match by
/// identity, so a term both files name draws alike in both. Where the worlds differ (see
/// [`world_differences`]), the second's deals run on the second's world, kept as an
/// [`OtherWorld`]; its inputs that no input of the first matches are added, keyed
/// `<label>/<key>` where the first uses the key. The labels (the files' stems) name the
/// scenarios where their own names do not tell them apart. Both files must name the same
/// parties in the same order (see [`pair`]).
pub fn combine(first: &Scenario, second: &Scenario, first_label: &str, label: &str) -> Scenario {
    let mut combined = first.clone();
    combined.name = if first.name.is_empty() || second.name.is_empty() {
        format!("{first_label} vs {label}")
    } else if first.name == second.name {
        format!("{}: {first_label} vs {label}", first.name)
    } else {
        format!("{} vs {}", first.name, second.name)
    };
    let latent_map: Vec<LatentId> =
        second.latents.iter().map(|identity| find_or_push(&mut combined.latents, identity)).collect();
    let coin_map: Vec<CoinId> =
        second.coins.iter().map(|identity| find_or_push(&mut combined.coins, identity)).collect();
    let renamed = |deal: &str| first.deals.iter().any(|d| d.name == deal);
    let input_map: Vec<InputId> = second
        .inputs
        .iter()
        .map(|input| {
            let latent = latent_map[input.latent];
            let same = combined.inputs.iter().position(|i| i.latent == latent && i.distribution == input.distribution);
            same.unwrap_or_else(|| {
                let mut input = input.clone();
                input.latent = latent;
                // Keys name inputs in the outputs: keep them unique.
                if let Some(rest) = input.key.strip_prefix("deals.")
                    && let Some((deal, term)) = rest.split_once('.')
                    && renamed(deal)
                {
                    input.key = format!("deals.{label}/{deal}.{term}");
                } else if combined.inputs.iter().any(|i| i.key == input.key) {
                    input.key = format!("{label}/{}", input.key);
                }
                combined.inputs.push(input);
                combined.inputs.len() - 1
            })
        })
        .collect();
    let first_of_second = combined.deals.len();
    for deal in &second.deals {
        let mut deal = deal.clone();
        if renamed(&deal.name) {
            deal.name = format!("{label}/{}", deal.name);
        }
        remap(&mut deal, &|id| input_map[id], &|coin| coin_map[coin]);
        combined.deals.push(deal);
    }
    if !world_differences(first, second).is_empty() {
        let mut world = second.clone();
        world.visit_world_scalars(&mut |scalar| remap_scalar(scalar, &|id| input_map[id]));
        for correlation in &mut world.correlations {
            correlation.between = correlation.between.map(|latent| latent_map[latent]);
        }
        world.inputs = combined.inputs.clone();
        world.latents = combined.latents.clone();
        world.coins = combined.coins.clone();
        world.deals = combined.deals.clone();
        let deals = first_of_second..combined.deals.len();
        combined.other_worlds.push(OtherWorld { scenario: Box::new(world), deals });
    }
    combined
}

fn find_or_push(identities: &mut Vec<Identity>, identity: &Identity) -> usize {
    match identities.iter().position(|known| known == identity) {
        Some(index) => index,
        None => {
            identities.push(identity.clone());
            identities.len() - 1
        }
    }
}

fn remap_scalar(scalar: &mut Scalar, input: &impl Fn(InputId) -> InputId) {
    if let Scalar::Input(id) = scalar {
        *id = input(*id);
    }
}

/// Points a deal's uncertain values and coins at their new ids.
fn remap(deal: &mut Deal, input: &impl Fn(InputId) -> InputId, coin: &impl Fn(CoinId) -> CoinId) {
    for (_, stake) in &mut deal.equity {
        remap_scalar(stake, input);
    }
    for term in &mut deal.terms {
        term.visit_draws(&mut |scalar| remap_scalar(scalar, input), &mut |id| *id = coin(*id));
    }
}
