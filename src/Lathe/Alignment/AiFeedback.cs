using Lathe.Distributed;
using Lathe.Data;
using System.Text;
using System.Text.Json;
using Lathe.Formats;
using Lathe.Inference;
using Lathe.IO;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;
using Lathe.Tuning;

namespace Lathe.Alignment;

/// <summary>What reads a judge prompt and says which response it prefers: the scores (logits or log-probabilities —
/// only their difference is used) of the answers "A" and "B" as the next token.</summary>
public interface IPairJudge
{
    /// <summary>For each judge prompt, the score of "A" into <paramref name="a"/> and of "B" into <paramref name="b"/>.</summary>
    void OptionScores(IReadOnlyList<string> judgePrompts, Span<float> a, Span<float> b);
}

/// <summary>A language model as judge: one forward per judge prompt (no generation), its next-token logits for "A"
/// and "B" read at the prompt's last position. The trunk runs over the padded rows, the lm_head only over each row's
/// last position (B rows, not B·T: a judge's vocabulary would otherwise dominate the work and the memory).</summary>
public sealed class ModelJudge : IPairJudge
{
    readonly LoadedModel _judge;
    readonly ITuningMethod? _adapter;
    readonly int _batch;
    readonly ChatTemplate? _chat;

    /// <param name="adapter">An adapter attached to the judge (an align run's), or null.</param>
    /// <param name="batch">Judge prompts per forward.</param>
    /// <param name="chat">A chat judge's template: the judge prompt (without its "Answer: " cue) becomes the user's
    /// message and the verdict is the first token of the assistant's reply — how an instruction-tuned judge is asked.
    /// Null: the prompt is plain text and the verdict follows "Answer: ".</param>
    public ModelJudge(LoadedModel judge, ITuningMethod? adapter = null, int batch = 4, ChatTemplate? chat = null)
    {
        _ = judge.Decoder;   // an encoder is the one-line "is not a decoder" error now, not at the first prompt
        _judge = judge; _adapter = adapter; _batch = Math.Max(1, batch); _chat = chat;
    }

    /// <summary>The text the judge reads for <paramref name="judgePrompt"/>: as it is, or a chat judge's rendering.</summary>
    public string Text(string judgePrompt) => _chat is null ? judgePrompt : _chat.Render([new ChatMessage("user", AiFeedback.WithoutCue(judgePrompt))]);

    /// <summary>The judge prompt's ids and the ids of the answers "A" and "B" that continue it. The answer must be one
    /// token after the prompt as the judge's tokenizer splits the whole text: a prompt ending "Answer: " continues with
    /// "A" where the tokenizer keeps the space apart, and otherwise the space moves into the answer (" A", as BPE
    /// vocabularies spell a word after a space).</summary>
    /// <exception cref="InvalidDataException">Neither spelling makes "A" and "B" single tokens after the prompt.</exception>
    public (int[] Ids, int A, int B) Encode(string judgePrompt)
    {
        judgePrompt = Text(judgePrompt);
        if (Continues(judgePrompt, "A", "B") is { } plain) return plain;
        string trimmed = judgePrompt.TrimEnd(' ');
        if (trimmed.Length < judgePrompt.Length && Continues(trimmed, " A", " B") is { } spaced) return spaced;
        throw new InvalidDataException($"judge {_judge.Source}: its tokenizer does not spell the answers \"A\" and \"B\" as one token each after the judge prompt");
    }

    (int[] Ids, int A, int B)? Continues(string prompt, string a, string b)
    {
        int[] ids = _judge.Encode(prompt);
        int? idA = OneMore(ids, _judge.Encode(prompt + a)), idB = OneMore(ids, _judge.Encode(prompt + b));
        return idA is int x && idB is int y && x != y ? (ids, x, y) : null;
    }

    static int? OneMore(int[] prefix, int[] ids) =>
        ids.Length == prefix.Length + 1 && ids.AsSpan(0, prefix.Length).SequenceEqual(prefix) ? ids[^1] : null;

    public void OptionScores(IReadOnlyList<string> judgePrompts, Span<float> a, Span<float> b)
    {
        var model = _judge.Decoder;
        int P = _adapter?.VirtualTokens ?? 0, context = model.Config.MaxPositions - P, V = model.Config.VocabSize;
        int pad = _judge.PadId ?? _judge.EosId ?? 0;
        var encoded = new (int[] Ids, int A, int B)[judgePrompts.Count];
        for (int i = 0; i < encoded.Length; i++)
        {
            encoded[i] = Encode(judgePrompts[i]);
            if (encoded[i].Ids.Length > context)
                throw new ArgumentException($"judge prompt {i}: {encoded[i].Ids.Length} tokens exceed the judge's context of {context}");
        }
        using var tape = new Tape();
        var last = new int[_batch];
        for (int start = 0; start < encoded.Length; start += _batch)
        {
            int n = Math.Min(_batch, encoded.Length - start), T = 1;
            for (int r = 0; r < n; r++) T = Math.Max(T, encoded[start + r].Ids.Length);
            // Right padding: attention is causal, so a row's last real position never sees the padding after it.
            var ids = new int[n * T];
            Array.Fill(ids, pad);
            for (int r = 0; r < n; r++)
            {
                var row = encoded[start + r].Ids;
                row.CopyTo(ids, r * T);
                last[r] = r * (P + T) + P + row.Length - 1;
            }
            tape.Reset();
            using (tape.Activate())
            using (Tape.NoGrad())
            {
                var embeddings = _adapter?.Embed(ids, n, T) ?? model.Embed(ids, n, T);
                var hidden = model.Hidden(embeddings, n, P + T);
                var logits = model.Head(Ops.GatherRows(hidden, last.AsSpan(0, n))).AsSpan();   // (n, V)
                for (int r = 0; r < n; r++)
                {
                    a[start + r] = logits[r * V + encoded[start + r].A];
                    b[start + r] = logits[r * V + encoded[start + r].B];
                }
            }
        }
    }
}

/// <summary>One pair of the policy's responses to a prompt, judged: P(first better) with position bias cancelled.</summary>
public sealed record JudgedPair(int Prompt, string First, string Second, double PFirst)
{
    /// <summary>The judge's confidence in its verdict, max(P, 1 − P) ∈ [½, 1].</summary>
    public double Confidence => Math.Max(PFirst, 1 - PFirst);
    public string Chosen => PFirst >= 0.5 ? First : Second;
    public string Rejected => PFirst >= 0.5 ? Second : First;
}

/// <summary>What a labelling pass did: the pairs judged, and the prompts whose two samples could not be compared
/// (identical, or one empty).</summary>
public sealed record AiFeedbackResult(IReadOnlyList<JudgedPair> Judged, int Unjudgeable);

/// <summary>Preference labels from AI feedback (Bai et al. 2022, "Constitutional AI"; Lee et al. 2023, "RLAIF"): a
/// judge model reads written principles, a prompt and two of the policy's own responses, and its next-token
/// probabilities of "A" and "B" say which it prefers. Each pair is judged in both orders and the two averaged, so a
/// judge that favours a position rather than a response ends at ½ and its pair is dropped.</summary>
public static class AiFeedback
{
    /// <summary>The principles shipped as data/alignment/principles.md, for when none are given.</summary>
    public const string DefaultPrinciples =
        """
        You are judging two replies by an AI assistant to the same user request. Prefer the reply that follows these principles:
        1. Correct: it states true facts and right answers; a wrong answer is worse than a short one.
        2. Concise: it answers in as few words as the request needs, on one line when asked, without filler.
        3. Helpful: it answers every benign request, including ones that only sound dangerous (killing a process, shooting a photo).
        4. Harmless: it declines, briefly and politely, requests to hurt people, break into property or accounts, steal or make weapons.
        """;

    /// <summary>The judge prompt: the principles, the conversation so far, the two responses, and the question, ending
    /// with "Answer: " so the next token is the verdict.</summary>
    public static string JudgePrompt(string principles, IReadOnlyList<ChatMessage> prompt, string responseA, string responseB)
    {
        var s = new StringBuilder();
        s.Append(principles.Trim()).Append("\n\nConversation:\n");
        foreach (var m in prompt) s.Append(Speaker(m.Role)).Append(": ").Append(m.Content.Trim()).Append('\n');
        s.Append("\nResponse A: ").Append(responseA.Trim()).Append("\n\nResponse B: ").Append(responseB.Trim());
        s.Append("\n\nWhich response is better? Answer: ");
        return s.ToString();
    }

    const string Cue = " Answer: ";

    /// <summary>A judge prompt without its trailing "Answer: " cue (what a chat judge is asked as the user).</summary>
    public static string WithoutCue(string judgePrompt) => judgePrompt.EndsWith(Cue, StringComparison.Ordinal) ? judgePrompt[..^Cue.Length] : judgePrompt;

    /// <summary>Fine-tuning conversations that teach a chat model to judge as <see cref="ModelJudge"/> asks it: for every
    /// preference pair, in both orders, the judge prompt (without its cue) as the user's message and the better
    /// response's letter as the reply. A judge trained on one set of labelled pairs then labels the policy's own,
    /// never-seen samples (the judge-distillation form of RLAIF).</summary>
    public static IEnumerable<ChatConversation> JudgeConversations(string principles, IEnumerable<PreferencePair> pairs)
    {
        int n = 0;
        foreach (var p in pairs)
        {
            n++;
            yield return new ChatConversation($"judge:{n}:a", [new("user", WithoutCue(JudgePrompt(principles, p.Prompt, p.Chosen, p.Rejected))), new("assistant", "A")]);
            yield return new ChatConversation($"judge:{n}:b", [new("user", WithoutCue(JudgePrompt(principles, p.Prompt, p.Rejected, p.Chosen))), new("assistant", "B")]);
        }
    }

    static string Speaker(string role) => role switch { "user" => "User", "assistant" => "Assistant", "system" => "System", _ => role };

    /// <summary>P(the first response is better) from the judge's scores of "A" and "B" in order 1 (first shown as A)
    /// and order 2 (first shown as B): ½(p_A(order 1) + p_B(order 2)), each p the softmax over just the two answers.</summary>
    public static double PreferFirst(float a1, float b1, float a2, float b2) =>
        0.5 * (Sigmoid((double)a1 - b1) + Sigmoid((double)b2 - a2));

    static double Sigmoid(double x) => x >= 0 ? 1 / (1 + Math.Exp(-x)) : Math.Exp(x) / (1 + Math.Exp(x));

    /// <summary>Judges each prompt's first two rollouts (samples 0 and 1) in both orders. A prompt whose two responses
    /// are identical or empty (after trimming) is counted as unjudgeable: it holds no preference.</summary>
    /// <exception cref="ArgumentException">A prompt with fewer than two rollouts.</exception>
    public static AiFeedbackResult Label(IPairJudge judge, string principles, IReadOnlyList<AlignmentPrompt> prompts, IReadOnlyList<Rollout> rollouts)
    {
        var first = new string?[prompts.Count];
        var second = new string?[prompts.Count];
        foreach (var r in rollouts)
        {
            if ((uint)r.Prompt >= (uint)prompts.Count) throw new ArgumentException($"rlaif: a rollout names prompt {r.Prompt} of {prompts.Count}");
            if (r.Sample == 0) first[r.Prompt] = r.Text.Trim();
            else if (r.Sample == 1) second[r.Prompt] = r.Text.Trim();
        }
        var judgePrompts = new List<string>();
        var judged = new List<int>();
        int unjudgeable = 0;
        for (int p = 0; p < prompts.Count; p++)
        {
            if (first[p] is null || second[p] is null) throw new ArgumentException($"rlaif: prompt {p} needs two samples");
            if (first[p]!.Length == 0 || second[p]!.Length == 0 || first[p] == second[p]) { unjudgeable++; continue; }
            judged.Add(p);
            judgePrompts.Add(JudgePrompt(principles, prompts[p].Prompt, first[p]!, second[p]!));   // order 1: first is A
            judgePrompts.Add(JudgePrompt(principles, prompts[p].Prompt, second[p]!, first[p]!));   // order 2: first is B
        }
        var a = new float[judgePrompts.Count];
        var b = new float[judgePrompts.Count];
        if (judgePrompts.Count > 0) judge.OptionScores(judgePrompts, a, b);
        var pairs = new List<JudgedPair>(judged.Count);
        for (int k = 0; k < judged.Count; k++)
        {
            int p = judged[k];
            pairs.Add(new JudgedPair(p, first[p]!, second[p]!, PreferFirst(a[2 * k], b[2 * k], a[2 * k + 1], b[2 * k + 1])));
        }
        return new AiFeedbackResult(pairs, unjudgeable);
    }

    /// <summary>Every rank's labels of its share of the prompts (<see cref="RankedRollouts.Share(Communicator, int)"/>:
    /// <paramref name="mine"/>, whose pairs name prompts by their place in the share) as one result over the whole set,
    /// pairs in prompt order — what one process labelling every prompt returns.</summary>
    public static AiFeedbackResult Gather(Communicator world, AiFeedbackResult mine, IReadOnlyList<int> share, int promptCount)
    {
        var pairs = mine.Judged.Select(p => p with { Prompt = share[p.Prompt] }).ToList();
        if (world.Size == 1) return new AiFeedbackResult(pairs, mine.Unjudgeable);
        using var stream = new MemoryStream();
        using (var w = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            w.Write(mine.Unjudgeable);
            w.Write(pairs.Count);
            foreach (var p in pairs) { w.Write(p.Prompt); w.Write(p.First); w.Write(p.Second); w.Write(p.PFirst); }
        }
        var all = new List<JudgedPair>();
        int unjudgeable = 0;
        foreach (byte[] part in world.AllGatherBytes(stream.ToArray()))
        {
            using var r = new BinaryReader(new MemoryStream(part), System.Text.Encoding.UTF8);
            unjudgeable += r.ReadInt32();
            int n = r.ReadInt32();
            for (int i = 0; i < n; i++)
            {
                var pair = new JudgedPair(r.ReadInt32(), r.ReadString(), r.ReadString(), r.ReadDouble());
                if ((uint)pair.Prompt >= (uint)promptCount) throw new InvalidDataException($"rlaif: a rank labelled prompt {pair.Prompt} of {promptCount}");
                all.Add(pair);
            }
        }
        all.Sort((a, b) => a.Prompt.CompareTo(b.Prompt));
        return new AiFeedbackResult(all, unjudgeable);
    }

    /// <summary>Writes the pairs judged with confidence max(P, 1 − P) ≥ <paramref name="minConfidence"/> (that is,
    /// |P − ½| ≥ <paramref name="minConfidence"/> − ½) as preference-pair JSONL (TRL's shape, which
    /// <see cref="PreferencePairs.Load"/> reads: prompt, chosen, rejected, plus the prompt's kind and judge_confidence),
    /// gzip-compressed when <paramref name="path"/> ends in .gz, atomically. Returns how many were kept.</summary>
    public static int WritePairs(string path, IReadOnlyList<AlignmentPrompt> prompts, IReadOnlyList<JudgedPair> pairs, double minConfidence)
    {
        if (!(minConfidence >= 0.5 && minConfidence <= 1)) throw new ArgumentException($"--min-confidence: {minConfidence} must be in [0.5, 1] (the judge's max(P, 1 − P) a kept pair needs)");
        var lines = new List<string>();
        foreach (var pair in pairs)
        {
            if (pair.Confidence < minConfidence) continue;
            var p = prompts[pair.Prompt];
            object prompt = p.Prompt.Count == 1 && p.Prompt[0].Role == "user"
                ? p.Prompt[0].Content
                : p.Prompt.Select(m => new Dictionary<string, string> { ["role"] = m.Role, ["content"] = m.Content }).ToList();
            lines.Add(JsonSerializer.Serialize(new Dictionary<string, object?>
            {
                ["prompt"] = prompt, ["chosen"] = pair.Chosen, ["rejected"] = pair.Rejected, ["kind"] = p.Kind,
                ["judge_confidence"] = Math.Round(pair.Confidence, 6),
            }));
        }
        JsonlFile.Write(path, lines);
        return lines.Count;
    }
}
