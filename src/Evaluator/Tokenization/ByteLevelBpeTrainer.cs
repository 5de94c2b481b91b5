using System.Text;
using NasPrune.Common;

namespace NasPrune.Evaluator.Tokenization;

/// <summary>
/// Trains a GPT-2-style byte-level BPE tokenizer, deterministically: the same texts and options always give the
/// same merges, in the same order, so a saved <c>tokenizer.json</c> is byte-for-byte reproducible.
/// </summary>
/// <remarks>
/// The corpus is reduced once to distinct pre-tokens (words) with their counts; merges then work on those words
/// only. Pair counts are kept up to date incrementally: a merge revisits just the words that contain the merged
/// pair (found through a pair-to-words index), so each step costs time proportional to those words, not to the
/// corpus. The most frequent pair comes from a max-heap with lazy deletion: every count change pushes a fresh
/// entry, and entries whose count no longer matches are dropped when they surface.
/// </remarks>
public static class ByteLevelBpeTrainer
{
    /// <summary>Trains on the given texts (each one a whole document; pre-tokens never span two texts).</summary>
    public static ByteLevelBpeModel Train(IEnumerable<string> texts, BpeTrainerOptions? options = null)
    {
        options ??= new BpeTrainerOptions();
        Validate(options);

        var tokens = new List<string>(options.VocabSize);
        tokens.AddRange(options.SpecialTokens);
        for (int b = 0; b < 256; b++)
            tokens.Add(ByteLevelAlphabet.ByteToChar((byte)b).ToString());
        var tokenIds = new Dictionary<string, int>(options.VocabSize, StringComparer.Ordinal);
        for (int id = 0; id < tokens.Count; id++)
            tokenIds.Add(tokens[id], id);

        var words = ToWords(CountPreTokens(texts, options.SpecialTokens), firstByteId: options.SpecialTokens.Count);
        var state = new PairState(words, tokens);
        var merges = new List<(string Left, string Right)>();

        while (tokens.Count < options.VocabSize && state.TryTakeBestPair(out int left, out int right, out long count))
        {
            if (count < options.MinFrequency)
                break;
            string merged = tokens[left] + tokens[right];
            // Two merge paths can spell the same string (a+bc, ab+c); like Hugging Face, reuse the id and keep
            // both merges, so the vocabulary grows only by new strings.
            if (!tokenIds.TryGetValue(merged, out int mergedId))
            {
                mergedId = tokens.Count;
                tokens.Add(merged);
                tokenIds.Add(merged, mergedId);
            }
            merges.Add((tokens[left], tokens[right]));
            state.Merge(left, right, mergedId);
        }

        return new ByteLevelBpeModel(options.SpecialTokens.ToArray(), tokens, merges);
    }

    /// <summary>Trains on whole text files, read as UTF-8 one at a time.</summary>
    public static ByteLevelBpeModel TrainFromFiles(IEnumerable<string> paths, BpeTrainerOptions? options = null)
    {
        return Train(paths.Select(path => File.Exists(path)
            ? File.ReadAllText(path)
            : throw new UserError($"training text not found: {path}")), options);
    }

    private static void Validate(BpeTrainerOptions options)
    {
        if (options.SpecialTokens.Any(string.IsNullOrEmpty))
            throw new ArgumentException("special tokens must be non-empty strings", nameof(options));
        if (options.SpecialTokens.Distinct(StringComparer.Ordinal).Count() != options.SpecialTokens.Count)
            throw new ArgumentException("special tokens must be distinct", nameof(options));
        int minimum = options.SpecialTokens.Count + 256;
        if (options.VocabSize < minimum)
            throw new ArgumentException($"vocabulary size {options.VocabSize} is below the {minimum} special and byte tokens", nameof(options));
        if (options.MinFrequency < 1)
            throw new ArgumentException("minimum frequency must be at least 1", nameof(options));
    }

    /// <summary>
    /// Counts the GPT-2 pre-tokens of all texts. Special tokens are cut out first, as the <c>tokenizers</c> library
    /// does, so that a literal "&lt;|endoftext|&gt;" in the corpus does not teach merges like "&lt;|".
    /// </summary>
    private static Dictionary<string, long> CountPreTokens(IEnumerable<string> texts, IReadOnlyList<string> specialTokens)
    {
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        // Looking up by span avoids allocating a string for each of the millions of pre-tokens.
        var lookup = counts.GetAlternateLookup<ReadOnlySpan<char>>();
        string[] separators = specialTokens.ToArray();
        foreach (string text in texts)
        {
            string[] segments = separators.Length == 0 ? [text] : text.Split(separators, StringSplitOptions.None);
            foreach (string segment in segments)
            {
                foreach (var match in Gpt2PreTokenizer.Regex.EnumerateMatches(segment))
                {
                    var piece = segment.AsSpan(match.Index, match.Length);
                    lookup[piece] = lookup.TryGetValue(piece, out long n) ? n + 1 : 1;
                }
            }
        }
        return counts;
    }

    /// <summary>Turns each distinct pre-token into its sequence of byte-symbol ids.</summary>
    private static List<Word> ToWords(Dictionary<string, long> preTokenCounts, int firstByteId)
    {
        var words = new List<Word>(preTokenCounts.Count);
        foreach (var (text, count) in preTokenCounts)
        {
            byte[] bytes = Encoding.UTF8.GetBytes(text);
            var symbols = new int[bytes.Length];
            for (int i = 0; i < bytes.Length; i++)
                symbols[i] = firstByteId + bytes[i];
            words.Add(new Word(symbols, count));
        }
        return words;
    }

    /// <summary>A distinct pre-token: its current symbols (shrinking as merges apply) and its corpus count.</summary>
    private sealed class Word(int[] symbols, long count)
    {
        public int[] Symbols = symbols;
        public int Length = symbols.Length;
        public readonly long Count = count;

        /// <summary>Replaces each non-overlapping occurrence of (left, right), scanning left to right.</summary>
        public bool Merge(int left, int right, int merged)
        {
            int write = 0;
            bool changed = false;
            for (int read = 0; read < Length; read++)
            {
                if (read + 1 < Length && Symbols[read] == left && Symbols[read + 1] == right)
                {
                    Symbols[write++] = merged;
                    read++;
                    changed = true;
                }
                else
                {
                    Symbols[write++] = Symbols[read];
                }
            }
            Length = write;
            return changed;
        }
    }

    /// <summary>Pair counts over all words, the pair-to-words index, and the heap that ranks pairs.</summary>
    private sealed class PairState
    {
        private readonly List<Word> _words;
        private readonly Dictionary<long, long> _counts = new();
        private readonly Dictionary<long, HashSet<int>> _wordsWithPair = new();
        private readonly PriorityQueue<long, (long Count, long Pair)> _heap;

        public PairState(List<Word> words, List<string> tokens)
        {
            _words = words;
            _heap = new PriorityQueue<long, (long Count, long Pair)>(new PairRanking(tokens));
            for (int w = 0; w < words.Count; w++)
            {
                Word word = words[w];
                for (int i = 0; i + 1 < word.Length; i++)
                {
                    long pair = Key(word.Symbols[i], word.Symbols[i + 1]);
                    _counts[pair] = _counts.GetValueOrDefault(pair) + word.Count;
                    Index(pair, w);
                }
            }
            foreach (var (pair, count) in _counts)
                _heap.Enqueue(pair, (count, pair));
        }

        public bool TryTakeBestPair(out int left, out int right, out long count)
        {
            while (_heap.TryDequeue(out long pair, out var entry))
            {
                if (_counts.TryGetValue(pair, out count) && count == entry.Count)
                {
                    (left, right) = Split(pair);
                    return true;
                }
            }
            (left, right, count) = (0, 0, 0);
            return false;
        }

        /// <summary>
        /// Applies the merge to every word holding the pair. Each such word's pairs are subtracted before and added
        /// after the merge; only pairs whose total changed get a new heap entry.
        /// </summary>
        public void Merge(int left, int right, int merged)
        {
            long mergedPair = Key(left, right);
            var deltas = new Dictionary<long, long>();
            foreach (int w in _wordsWithPair[mergedPair])
            {
                Word word = _words[w];
                // Subtract first (the merge rewrites Symbols in place); the index may list words that lost the
                // pair to an earlier merge, and for those the subtraction is undone below with no net change.
                AddPairs(word, -word.Count, deltas);
                bool changed = word.Merge(left, right, merged);
                AddPairs(word, word.Count, deltas);
                if (!changed)
                    continue;
                for (int i = 0; i + 1 < word.Length; i++)
                {
                    if (word.Symbols[i] == merged || word.Symbols[i + 1] == merged)
                        Index(Key(word.Symbols[i], word.Symbols[i + 1]), w);
                }
            }
            foreach (var (pair, delta) in deltas)
            {
                if (delta == 0)
                    continue;
                long count = _counts.GetValueOrDefault(pair) + delta;
                if (count > 0)
                {
                    _counts[pair] = count;
                    _heap.Enqueue(pair, (count, pair));
                }
                else
                {
                    // A zero count means no word holds the pair any more, so its index entry is dead too.
                    _counts.Remove(pair);
                    _wordsWithPair.Remove(pair);
                }
            }
        }

        private static void AddPairs(Word word, long count, Dictionary<long, long> deltas)
        {
            for (int i = 0; i + 1 < word.Length; i++)
            {
                long pair = Key(word.Symbols[i], word.Symbols[i + 1]);
                deltas[pair] = deltas.GetValueOrDefault(pair) + count;
            }
        }

        private void Index(long pair, int word)
        {
            if (!_wordsWithPair.TryGetValue(pair, out var set))
                _wordsWithPair[pair] = set = [];
            set.Add(word);
        }

        private static long Key(int left, int right) => ((long)left << 32) | (uint)right;

        private static (int Left, int Right) Split(long pair) => ((int)(pair >> 32), (int)pair);

        /// <summary>
        /// Heap order: higher count first; ties go to the pair whose left, then right, token string is smaller in
        /// ordinal order, which makes training independent of hash and insertion order.
        /// </summary>
        private sealed class PairRanking(List<string> tokens) : IComparer<(long Count, long Pair)>
        {
            public int Compare((long Count, long Pair) x, (long Count, long Pair) y)
            {
                if (x.Count != y.Count)
                    return y.Count.CompareTo(x.Count);
                var (xLeft, xRight) = Split(x.Pair);
                var (yLeft, yRight) = Split(y.Pair);
                int byLeft = string.CompareOrdinal(tokens[xLeft], tokens[yLeft]);
                return byLeft != 0 ? byLeft : string.CompareOrdinal(tokens[xRight], tokens[yRight]);
            }
        }
    }
}
