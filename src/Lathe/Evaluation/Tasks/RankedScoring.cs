using System.Buffers.Binary;
using System.Text;
using Lathe.Distributed;

namespace Lathe.Evaluation.Tasks;

/// <summary>The exchanges of an evaluation split over the ranks of a job: each rank scored some requests (or
/// generated some answers) and every rank gets all of them, indexed as in one process. Compact little-endian records
/// through <see cref="Communicator.AllGatherBytes"/>; every rank calls the same method at the same point.</summary>
internal static class RankedScoring
{
    /// <summary>Runs <paramref name="prepare"/> (reading documents, building requests: work every rank does alike and
    /// before any exchange); in a job, a bad document on any rank stops every rank with the same one-line error
    /// (<see cref="JobFence"/>) instead of one rank failing while the others wait in an exchange.</summary>
    public static T Prepared<T>(Communicator? world, Func<T> prepare) =>
        world is null || world.Size == 1 ? prepare() : JobFence.Run(world, prepare, e => e is InvalidDataException or ArgumentException);

    /// <summary>One token's log-probability in a rolling score: the pass that computed it and the text it belongs to.</summary>
    public readonly record struct Term(int Pass, int Text, double Log);

    /// <summary>Fills <paramref name="results"/> with every rank's scores; <paramref name="mine"/> are the requests this
    /// rank scored (their results are already in place).</summary>
    public static void Gather(Communicator world, LogLikelihood[] results, List<int> mine)
    {
        // Record: request (int32), log-likelihood (float64 bits), greedy (byte).
        var bytes = new byte[mine.Count * 13];
        for (int i = 0; i < mine.Count; i++)
        {
            var at = bytes.AsSpan(i * 13);
            BinaryPrimitives.WriteInt32LittleEndian(at, mine[i]);
            BinaryPrimitives.WriteDoubleLittleEndian(at[4..], results[mine[i]].Value);
            at[12] = results[mine[i]].IsGreedy ? (byte)1 : (byte)0;
        }
        foreach (var part in world.AllGatherBytes(bytes))
            for (int at = 0; at < part.Length; at += 13)
                results[BinaryPrimitives.ReadInt32LittleEndian(part.AsSpan(at))] =
                    new LogLikelihood(BinaryPrimitives.ReadDoubleLittleEndian(part.AsSpan(at + 4)), part[at + 12] != 0);
    }

    /// <summary>The rolling sums from every rank's <paramref name="terms"/> (each rank's in the order it computed them):
    /// per text, the terms are added from 0 in pass order, each pass's in its own order — the order one process adds
    /// them in, so the sums have its bits.</summary>
    public static void Sum(Communicator world, List<Term> terms, (double Sum, int Tokens)[] results)
    {
        var bytes = new byte[terms.Count * 16];
        for (int i = 0; i < terms.Count; i++)
        {
            var at = bytes.AsSpan(i * 16);
            BinaryPrimitives.WriteInt32LittleEndian(at, terms[i].Pass);
            BinaryPrimitives.WriteInt32LittleEndian(at[4..], terms[i].Text);
            BinaryPrimitives.WriteDoubleLittleEndian(at[8..], terms[i].Log);
        }
        var all = new List<Term>();
        foreach (var part in world.AllGatherBytes(bytes))
            for (int at = 0; at < part.Length; at += 16)
                all.Add(new Term(BinaryPrimitives.ReadInt32LittleEndian(part.AsSpan(at)), BinaryPrimitives.ReadInt32LittleEndian(part.AsSpan(at + 4)),
                    BinaryPrimitives.ReadDoubleLittleEndian(part.AsSpan(at + 8))));
        // A pass lives on one rank, so a stable sort by pass keeps each pass's own order.
        foreach (var term in all.OrderBy(t => t.Pass))
        {
            results[term.Text].Sum += term.Log;
            results[term.Text].Tokens++;
        }
    }

    /// <summary>Every rank's generated answers: <paramref name="mine"/> maps a document to this rank's answer; returns
    /// the answers of all documents (indexed by document).</summary>
    public static string[] GatherAnswers(Communicator world, int documents, IReadOnlyList<(int Document, string Answer)> mine)
    {
        var buffer = new MemoryStream();
        using (var w = new BinaryWriter(buffer, Encoding.UTF8, leaveOpen: true))
            foreach (var (document, answer) in mine) { w.Write(document); w.Write(answer); }
        var answers = new string[documents];
        foreach (var part in world.AllGatherBytes(buffer.ToArray()))
        {
            using var r = new BinaryReader(new MemoryStream(part), Encoding.UTF8);
            while (r.BaseStream.Position < part.Length) answers[r.ReadInt32()] = r.ReadString();
        }
        return answers;
    }
}
