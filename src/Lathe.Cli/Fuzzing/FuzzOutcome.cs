namespace Lathe.Cli.Fuzzing;

/// <summary>What one mutated input did to the reader. The last three are failures the fuzzer exists to find.</summary>
internal enum FuzzOutcome
{
    /// <summary>Loaded and ran (the model answered a forward, the tokenizer encoded, the rows parsed).</summary>
    Accepted,
    /// <summary>Refused the way the CLI refuses bad input: one line naming the file, exit code 2.</summary>
    Rejected,
    /// <summary>Any other exception, or a user-error message that is not one line or does not name the file.</summary>
    Crash,
    /// <summary>Still running when the per-case time limit ran out.</summary>
    Hang,
    /// <summary>Allocated more than the stated bound (or ran out of memory trying).</summary>
    Memory,
}

/// <summary>One case's outcome and, for a failure, what happened (the message the CLI would print, or the bytes).</summary>
internal sealed record FuzzCaseResult(int Index, FuzzOutcome Outcome, string Detail, long AllocatedBytes, string Mutations)
{
    public bool IsFailure => Outcome is FuzzOutcome.Crash or FuzzOutcome.Hang or FuzzOutcome.Memory;
}

/// <summary>The counts of one format's run.</summary>
internal sealed class FuzzCounts
{
    public int Accepted, Rejected, Crash, Hang, Memory;
    public int Cases => Accepted + Rejected + Crash + Hang + Memory;
    public int Failures => Crash + Hang + Memory;

    public void Add(FuzzOutcome outcome)
    {
        switch (outcome)
        {
            case FuzzOutcome.Accepted: Accepted++; break;
            case FuzzOutcome.Rejected: Rejected++; break;
            case FuzzOutcome.Crash: Crash++; break;
            case FuzzOutcome.Hang: Hang++; break;
            default: Memory++; break;
        }
    }

    public void Add(FuzzCounts other)
    {
        Accepted += other.Accepted; Rejected += other.Rejected; Crash += other.Crash; Hang += other.Hang; Memory += other.Memory;
    }
}
