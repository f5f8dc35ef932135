//! Putting the deals of two scenario files on one world, for paired comparison across files.

use super::{CoinId, CommitmentWindow, Curve, Deal, Identity, InputId, LatentId, Scalar, Scenario};

/// The two files' worlds differ where pairing needs them equal; each entry names a section.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the two scenarios do not share a world, so their deals cannot be paired: they differ in {}", .0.join("; "))]
pub struct WorldMismatch(pub Vec<String>);

/// The first scenario with the second's deals added after its own. Deals of the second whose
/// names the first already uses are renamed `<label>/<name>`.
pub fn combine(first: &Scenario, second: &Scenario, label: &str) -> Result<Scenario, WorldMismatch> {
    let mut differences = Vec::new();
    let mut differ = |section: &str, equal: bool| {
        if !equal {
            differences.push(section.to_string());
        }
    };
    differ("[simulation] start, years or steps_per_year", first.simulation.grid == second.simulation.grid);
    differ("[simulation].seed (pass --seed to use one seed for both)", first.simulation.seed == second.simulation.seed);
    differ(
        "[simulation].paths (pass --paths to use one count for both)",
        first.simulation.paths == second.simulation.paths,
    );
    differ("[parties]", first.parties == second.parties);
    differ("[[streams]]", first.streams == second.streams);
    differ("[compute]", first.compute == second.compute);
    differ("[valuation]", first.valuation == second.valuation);
    differ("[[events]]", first.events == second.events);
    let world = first.world_inputs;
    differ(
        "the world's uncertain inputs",
        world == second.world_inputs && first.inputs[..world] == second.inputs[..world],
    );
    let world_latent =
        |scenario: &Scenario, latent: LatentId| scenario.inputs[..world].iter().any(|i| i.latent == latent);
    let world_correlations = |scenario: &Scenario| {
        scenario
            .correlations
            .iter()
            .filter(|c| c.between.iter().all(|&latent| world_latent(scenario, latent)))
            .map(|c| (c.keys.clone(), c.rank))
            .collect::<Vec<_>>()
    };
    differ("the world's [[correlations]]", world_correlations(first) == world_correlations(second));
    if !differences.is_empty() {
        return Err(WorldMismatch(differences));
    }
    let mut combined = first.clone();
    combined.name = format!("{} vs {}", first.name, second.name);
    // The second file's deal inputs follow the first's; latents and coins are matched by identity,
    // so a term both files name draws alike in both.
    let input_offset = first.inputs.len() - world;
    let remap_input = |id: InputId| if id < world { id } else { id + input_offset };
    let mut combined_latents = first.latents.clone();
    let latent_map: Vec<LatentId> =
        second.latents.iter().map(|identity| find_or_push(&mut combined_latents, identity)).collect();
    let mut combined_coins = first.coins.clone();
    let coin_map: Vec<CoinId> =
        second.coins.iter().map(|identity| find_or_push(&mut combined_coins, identity)).collect();
    for deal in &second.deals {
        let mut deal = deal.clone();
        let name = if first.deals.iter().any(|d| d.name == deal.name) {
            format!("{label}/{}", deal.name)
        } else {
            deal.name.clone()
        };
        remap(&mut deal, &remap_input, &|coin| coin_map[coin]);
        deal.name = name;
        combined.deals.push(deal);
    }
    for (index, input) in second.inputs.iter().enumerate().skip(world) {
        let mut input = input.clone();
        // Keys name the deal: keep them unique when the deal was renamed.
        if let Some(rest) = input.key.strip_prefix("deals.")
            && let Some((deal, term)) = rest.split_once('.')
            && first.deals.iter().any(|d| d.name == deal)
        {
            input.key = format!("deals.{label}/{deal}.{term}");
        }
        debug_assert_eq!(remap_input(index), combined.inputs.len());
        input.latent = latent_map[input.latent];
        combined.inputs.push(input);
    }
    for correlation in second.correlations.iter().filter(|c| !c.between.iter().all(|&l| world_latent(second, l))) {
        let mut correlation = correlation.clone();
        correlation.between = correlation.between.map(|latent| latent_map[latent]);
        combined.correlations.push(correlation);
    }
    combined.latents = combined_latents;
    combined.coins = combined_coins;
    Ok(combined)
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

fn remap_curve(curve: &mut Curve, input: &impl Fn(InputId) -> InputId) {
    match curve {
        Curve::Flat(value) => remap_scalar(value, input),
        Curve::Trajectory { start, end, .. } => {
            remap_scalar(start, input);
            remap_scalar(end, input);
        }
        Curve::Schedule { values, .. } => values.iter_mut().for_each(|value| remap_scalar(value, input)),
    }
}

/// Points a deal's uncertain values and coins at their new ids.
fn remap(deal: &mut Deal, input: &impl Fn(InputId) -> InputId, coin: &impl Fn(CoinId) -> CoinId) {
    for (_, stake) in &mut deal.equity {
        remap_scalar(stake, input);
    }
    for share in &mut deal.revenue_shares {
        remap_curve(&mut share.rate, input);
        if let Some(cap) = &mut share.cap {
            remap_scalar(cap, input);
        }
        remap_scalar(&mut share.paid_before, input);
    }
    for commitment in &mut deal.commitments {
        remap_scalar(&mut commitment.total, input);
        remap_scalar(&mut commitment.take_or_pay, input);
        if let CommitmentWindow::Years(years) = &mut commitment.window {
            remap_scalar(years, input);
        }
    }
    for investment in &mut deal.investments {
        for tranche in &mut investment.tranches {
            remap_scalar(&mut tranche.amount, input);
            remap_scalar(&mut tranche.probability, input);
            tranche.coin = coin(tranche.coin);
        }
    }
}
