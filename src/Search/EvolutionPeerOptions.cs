using NasPrune.Common;

namespace NasPrune.Search;

/// <summary>
/// Settings of <see cref="EvolutionPeer"/>. Defaults follow EvoPress's multi-step selection scaled to this project's
/// windows: a generation costs 16 screens × 8 windows + 2 confirmations × 32 windows = 192 window-evaluations, so
/// the default budget (4,096) is the start evaluation plus about 21 generations.
/// </summary>
/// <param name="Offspring">λ: offspring bred from the parent per generation.</param>
/// <param name="MaxMoves">Most budget moves (one gene up a grid step, another down) per offspring; each draws 1..MaxMoves.</param>
/// <param name="SingleStepRate">Share of moves that step one gene (up or down) instead of exchanging a step between two.</param>
/// <param name="ScreenWindows">Windows every offspring is screened on (a prefix of the full windows).</param>
/// <param name="Survivors">Best screened offspring confirmed on the full windows.</param>
/// <param name="FullWindows">Windows of a full-fidelity evaluation (the parent's and the survivors').</param>
/// <param name="BudgetWindows">Total window-evaluations the search may spend, start evaluation and screens included.</param>
/// <param name="DuplicateRetries">Extra draws for an offspring whose genome was already seen, before it is skipped.</param>
/// <param name="Seed">Seed of the one <see cref="Random"/> that drives mutation and repair.</param>
public sealed record EvolutionPeerOptions(
    int Offspring = 16,
    int MaxMoves = 3,
    double SingleStepRate = 0.25,
    int ScreenWindows = 8,
    int Survivors = 2,
    int FullWindows = 32,
    long BudgetWindows = 4096,
    int DuplicateRetries = 8,
    long Seed = 1234)
{
    public void Validate()
    {
        if (Offspring < 1) throw new UserError($"evolution peer offspring {Offspring}: needs at least 1 per generation");
        if (MaxMoves < 1) throw new UserError($"evolution peer max moves {MaxMoves}: needs at least 1");
        if (!(SingleStepRate >= 0 && SingleStepRate <= 1)) throw new UserError($"evolution peer single-step rate {SingleStepRate}: must be in [0, 1]");
        if (FullWindows < 1) throw new UserError($"evolution peer full windows {FullWindows}: needs at least 1");
        if (ScreenWindows < 1 || ScreenWindows > FullWindows)
            throw new UserError($"evolution peer screen windows {ScreenWindows}: must be in [1, full windows {FullWindows}]");
        if (Survivors < 1 || Survivors > Offspring)
            throw new UserError($"evolution peer survivors {Survivors}: must be in [1, offspring {Offspring}]");
        if (BudgetWindows < FullWindows)
            throw new UserError($"evolution peer budget {BudgetWindows} window-evaluations: must cover at least the start's full evaluation ({FullWindows})");
        if (DuplicateRetries < 0) throw new UserError($"evolution peer duplicate retries {DuplicateRetries}: must not be negative");
    }
}
