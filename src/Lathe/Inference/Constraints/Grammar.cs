using System.Text;

namespace Lathe.Inference.Constraints;

/// <summary>One symbol of an alternative of a grammar rule: a set of bytes (a terminal) or a rule (a nonterminal).</summary>
internal readonly record struct Symbol(int Rule, ByteSet Terminal)
{
    public bool IsRule => Rule >= 0;
    public static Symbol Ref(int rule) => new(rule, default);
    public static Symbol Set(ByteSet bytes) => new(-1, bytes);

    /// <summary>The UTF-8 bytes of <paramref name="text"/>, one terminal each.</summary>
    public static Symbol[] Text(string text) => Bytes(Encoding.UTF8.GetBytes(text));

    public static Symbol[] Bytes(ReadOnlySpan<byte> bytes)
    {
        var symbols = new Symbol[bytes.Length];
        for (int i = 0; i < bytes.Length; i++) symbols[i] = Set(ByteSet.Of(bytes[i]));
        return symbols;
    }
}

/// <summary>A context-free grammar over bytes, laid out flat for <see cref="GrammarAutomaton"/>: every alternative of
/// every rule is a run of positions ending in an End position, so "the element after this one" is position + 1.</summary>
/// <remarks>Like llama.cpp's GBNF, the grammar is over the bytes of the output, so a token ending inside a UTF-8
/// character is judged by the bytes it has. Left recursion is not allowed (the builders here never make it).</remarks>
internal sealed class Grammar
{
    internal const int End = 0, Terminal = 1, Ref = 2;

    /// <summary>Position → kind (low 2 bits) and argument (the rest): End, Terminal (index into
    /// <see cref="Terminals"/>) or Ref (a rule).</summary>
    internal readonly int[] Code;
    internal readonly ByteSet[] Terminals;
    /// <summary>Rule → the start positions of its alternatives.</summary>
    internal readonly int[][] Alternatives;
    internal readonly string[] RuleNames;
    internal readonly int Start;

    internal Grammar(int[] code, ByteSet[] terminals, int[][] alternatives, string[] ruleNames, int start)
    {
        Code = code; Terminals = terminals; Alternatives = alternatives; RuleNames = ruleNames; Start = start;
    }

    internal static int Kind(int code) => code & 3;
    internal static int Arg(int code) => code >> 2;
}

/// <summary>Builds a <see cref="Grammar"/>: rules are declared (so they can refer to each other, recursion included)
/// and defined by their alternatives; a few helpers make the usual shapes (optional, repetition).</summary>
internal sealed class GrammarBuilder
{
    readonly List<Symbol[][]?> _rules = [];
    readonly List<string> _names = [];

    public int RuleCount => _rules.Count;

    /// <summary>A new rule to be defined later (for recursion).</summary>
    public int Declare(string name)
    {
        _rules.Add(null);
        _names.Add(name);
        return _rules.Count - 1;
    }

    public void Define(int rule, params Symbol[][] alternatives)
    {
        if (_rules[rule] is not null) throw new InvalidOperationException($"grammar rule '{_names[rule]}' is defined twice.");
        _rules[rule] = alternatives;
    }

    /// <summary>A new rule with these alternatives (an empty alternative matches nothing, i.e. ε).</summary>
    public int Rule(string name, params Symbol[][] alternatives)
    {
        int rule = Declare(name);
        Define(rule, alternatives);
        return rule;
    }

    /// <summary>A new rule matching only the empty string (ε). (<c>Rule(name, [])</c> would be a rule with no
    /// alternatives, which matches nothing.)</summary>
    public int Epsilon(string name) => Rule(name, [Array.Empty<Symbol>()]);

    /// <summary><paramref name="sequence"/> or nothing.</summary>
    public int Optional(string name, Symbol[] sequence) => Rule(name, sequence, []);

    /// <summary>Zero or more <paramref name="sequence"/> (which must not match the empty string). Right-recursive,
    /// and the recursion is the alternative's last symbol, so the automaton's stack does not grow with the count.</summary>
    public int Star(string name, Symbol[] sequence)
    {
        int rule = Declare(name);
        Define(rule, [.. sequence, Symbol.Ref(rule)], []);
        return rule;
    }

    /// <summary><paramref name="min"/> to <paramref name="max"/> (-1: unbounded) copies of <paramref name="sequence"/>.
    /// The optional copies are a chain of rules (Rₖ = sequence Rₖ₋₁ | ε), one per copy.</summary>
    public int Repeat(string name, Symbol[] sequence, int min, int max)
    {
        int tail = max < 0 ? Star(name + "*", sequence) : UpTo(name, sequence, max - min);
        var required = new List<Symbol>(sequence.Length * min + 1);
        for (int i = 0; i < min; i++) required.AddRange(sequence);
        required.Add(Symbol.Ref(tail));
        return Rule(name, [.. required]);
    }

    int UpTo(string name, Symbol[] sequence, int count)
    {
        int rule = Epsilon(name + "{0}");
        for (int k = 1; k <= count; k++) rule = Rule($"{name}{{0,{k}}}", [.. sequence, Symbol.Ref(rule)], []);
        return rule;
    }

    /// <summary>The flat grammar starting at <paramref name="start"/>.</summary>
    public Grammar Build(int start)
    {
        var code = new List<int>();
        var terminals = new List<ByteSet>();
        var terminalIndex = new Dictionary<ByteSet, int>();
        var alternatives = new int[_rules.Count][];
        for (int r = 0; r < _rules.Count; r++)
        {
            var alts = _rules[r] ?? throw new InvalidOperationException($"grammar rule '{_names[r]}' is declared but never defined.");
            alternatives[r] = new int[alts.Length];
            for (int a = 0; a < alts.Length; a++)
            {
                alternatives[r][a] = code.Count;
                foreach (var symbol in alts[a])
                {
                    if (symbol.IsRule) { code.Add(Grammar.Ref | symbol.Rule << 2); continue; }
                    if (!terminalIndex.TryGetValue(symbol.Terminal, out int t)) { t = terminals.Count; terminals.Add(symbol.Terminal); terminalIndex.Add(symbol.Terminal, t); }
                    code.Add(Grammar.Terminal | t << 2);
                }
                code.Add(Grammar.End);
            }
        }
        return new Grammar([.. code], [.. terminals], alternatives, [.. _names], start);
    }
}
