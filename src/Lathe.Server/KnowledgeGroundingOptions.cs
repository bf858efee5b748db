using Lathe.Knowledge;
using Lathe.Knowledge.Grounding;

namespace Lathe.Server;

/// <summary>Grounds chat completions in a knowledge graph (<c>serve --kg</c>): the last user message is read as a
/// question about <paramref name="Graph"/>; its subject's facts go before it as a system message (modes Retrieve and
/// Both, within <paramref name="FactBudgetTokens"/>) and the reply is constrained to the graph's answers (Constrain and
/// Both), or to the abstention when the graph cannot answer. The server does not own the graph.</summary>
public sealed record KnowledgeGroundingOptions(IKnowledgeGraph Graph, GroundingMode Mode, int FactBudgetTokens = 256);
