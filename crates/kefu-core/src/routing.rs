//! Routing v1: a waiting conversation goes to the online agent of its team with the fewest open
//! conversations, below that agent's cap; ties go to the agent who has waited longest since their
//! last assignment, then to the lowest id (so the choice is deterministic and fair).
//!
//! Stores call [`pick_agent`] inside the transaction that assigns, so two conversations can never
//! both take an agent's last free slot.

use crate::model::Id;

/// An agent that could take a conversation, as the store sees them at this moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub agent_id: Id,
    pub open_count: i64,
    pub max_concurrent: i64,
    /// When the agent was last assigned a conversation (ms); 0 if never.
    pub last_assigned_at: i64,
}

/// The agent that gets the next conversation, or `None` when every candidate is full.
pub fn pick_agent(candidates: &[Candidate]) -> Option<Id> {
    candidates
        .iter()
        .filter(|c| c.open_count < c.max_concurrent)
        .min_by_key(|c| (c.open_count, c.last_assigned_at, c.agent_id))
        .map(|c| c.agent_id)
}

/// Assigns waiting conversations (oldest first) to candidates, updating their load as it goes.
/// Returns `(conversation, agent)` pairs; conversations that find no free agent stay queued.
pub fn plan_assignments(queue: &[Id], candidates: &mut [Candidate], now: i64) -> Vec<(Id, Id)> {
    let mut plan = Vec::new();
    for &conversation in queue {
        let Some(agent) = pick_agent(candidates) else {
            break;
        };
        if let Some(c) = candidates.iter_mut().find(|c| c.agent_id == agent) {
            c.open_count += 1;
            c.last_assigned_at = now;
        }
        plan.push((conversation, agent));
    }
    plan
}

/// How many waiting conversations of each team routing could place right now: a team's queue is
/// served by the free slots of its agents (an agent in several teams counts for each of them);
/// conversations without a team by anyone's. Stores read no more of each queue than this, so a
/// long queue with busy agents costs nothing per routing run.
pub fn reachable_by_team(agents: &[(Vec<Id>, Candidate)]) -> Vec<(Option<Id>, i64)> {
    let free = |c: &Candidate| (c.max_concurrent - c.open_count).max(0);
    let mut out: Vec<(Option<Id>, i64)> = Vec::new();
    for (teams, c) in agents {
        for team in teams {
            match out.iter_mut().find(|(t, _)| *t == Some(*team)) {
                Some(entry) => entry.1 += free(c),
                None => out.push((Some(*team), free(c))),
            }
        }
    }
    out.push((None, agents.iter().map(|(_, c)| free(c)).sum()));
    out.retain(|(_, n)| *n > 0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(agent_id: Id, open_count: i64, max: i64, last: i64) -> Candidate {
        Candidate {
            agent_id,
            open_count,
            max_concurrent: max,
            last_assigned_at: last,
        }
    }

    #[test]
    fn fewest_open_wins_and_caps_hold() {
        let c = [cand(1, 3, 8, 0), cand(2, 1, 8, 0), cand(3, 0, 0, 0)];
        assert_eq!(pick_agent(&c), Some(2));
        assert_eq!(pick_agent(&[cand(1, 8, 8, 0)]), None);
        assert_eq!(pick_agent(&[]), None);
    }

    #[test]
    fn ties_go_to_longest_idle() {
        let c = [cand(1, 1, 8, 500), cand(2, 1, 8, 100)];
        assert_eq!(pick_agent(&c), Some(2));
    }

    #[test]
    fn reach_counts_free_slots_per_team() {
        let agents = [
            (vec![1], cand(10, 3, 4, 0)),
            (vec![1], cand(11, 8, 8, 0)),
            (vec![2], cand(12, 0, 2, 0)),
            (vec![], cand(13, 9, 8, 0)),
        ];
        assert_eq!(
            reachable_by_team(&agents),
            vec![(Some(1), 1), (Some(2), 2), (None, 3)]
        );
        assert!(reachable_by_team(&[(vec![1], cand(1, 8, 8, 0))]).is_empty());
        // An agent of two teams reaches both queues, and counts once for the team-less one.
        assert_eq!(
            reachable_by_team(&[(vec![1, 2], cand(1, 0, 3, 0))]),
            vec![(Some(1), 3), (Some(2), 3), (None, 3)]
        );
        assert!(reachable_by_team(&[]).is_empty());
    }

    #[test]
    fn plan_spreads_and_stops_when_full() {
        let mut c = vec![cand(1, 0, 2, 0), cand(2, 0, 1, 0)];
        let plan = plan_assignments(&[10, 11, 12, 13], &mut c, 1);
        assert_eq!(plan, vec![(10, 1), (11, 2), (12, 1)]);
        assert_eq!(c[0].open_count, 2);
        assert_eq!(c[1].open_count, 1);
    }
}
