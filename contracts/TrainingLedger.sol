// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {ComputeMarket} from "./ComputeMarket.sol";
import {ProtocolParams} from "./ProtocolParams.sol";

/// @title TrainingLedger
/// @notice The training record of each job: one transaction per round commits the Merkle root of all
///         participants' round records and the resulting model hash, co-signed (EIP-712) by at least 2/3 of
///         the job's participants. Closing a job pulls its earned escrow from the ComputeMarket and records
///         the final model hash; a co-signed reward root then splits it (providers, data contributors,
///         validators) and accounts claim with Merkle proofs.
/// @dev An epoch is a whole job: `epoch == jobId`. EIP-712 domain "Agora TrainingLedger" v1, types
///      `RoundCommit(uint256 jobId,uint256 round,bytes32 recordsRoot,bytes32 modelHash)` and
///      `RewardRoot(uint256 jobId,bytes32 root,uint256 total)`. Rounds are numbered 0..rounds-1 and
///      committed in order. Round-record leaves: keccak256(bytes.concat(keccak256(abi.encode(jobId, round,
///      worker, pseudoGradientHash, sampleRoot, lossBefore, lossAfter, samples)))). Reward leaves:
///      keccak256(bytes.concat(keccak256(abi.encode(account, amount)))) (StandardMerkleTree ["address","uint256"]).
contract TrainingLedger is EIP712, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice A committed round.
    struct Round {
        bytes32 recordsRoot;
        bytes32 modelHash;
        uint64 committedAt;
    }

    /// @notice Per-job accounting.
    struct JobLedger {
        uint32 roundsCommitted;
        bool closed;
        bool complete;
        bool swept;
        bytes32 finalModelHash;
        uint256 funded;
        bytes32 rewardRoot;
        uint256 rewardTotal;
        uint256 claimed;
    }

    /// @notice EIP-712 type hash of RoundCommit.
    bytes32 public constant ROUND_COMMIT_TYPEHASH =
        keccak256("RoundCommit(uint256 jobId,uint256 round,bytes32 recordsRoot,bytes32 modelHash)");
    /// @notice EIP-712 type hash of RewardRoot.
    bytes32 public constant REWARD_ROOT_TYPEHASH = keccak256("RewardRoot(uint256 jobId,bytes32 root,uint256 total)");

    /// @notice The AGORA token.
    IERC20 public immutable token;
    /// @notice Governance parameters (treasury).
    ProtocolParams public immutable params;
    /// @notice The market holding jobs, participants and escrow.
    ComputeMarket public immutable market;

    mapping(uint256 jobId => JobLedger) private _ledgers;
    mapping(uint256 jobId => mapping(uint256 round => Round)) private _rounds;
    mapping(uint256 epoch => mapping(address account => bool)) private _claimed;

    /// @notice A round was committed.
    event RoundCommitted(uint256 indexed jobId, uint256 indexed round, bytes32 recordsRoot, bytes32 modelHash, uint256 signers);
    /// @notice A job was closed; `funded` AGORA is available for its reward root.
    event JobClosed(uint256 indexed jobId, uint32 roundsCommitted, bool complete, uint256 funded, bytes32 finalModelHash);
    /// @notice A reward root was posted for an epoch (= job); `signers` is 0 when governance posted it.
    event RewardRootPosted(uint256 indexed epoch, bytes32 root, uint256 total, uint256 signers);
    /// @notice A reward was claimed.
    event Claimed(uint256 indexed epoch, address indexed account, uint256 amount);
    /// @notice Funds not allocated by the reward root went to the treasury.
    event Swept(uint256 indexed epoch, address treasury, uint256 amount);

    /// @notice The job is not running in the market.
    error JobNotRunning(uint256 jobId);
    /// @notice Rounds must be committed in order, within the job's round count.
    error WrongRound(uint256 expected, uint256 got);
    /// @notice The commit is past the job's completion deadline.
    error PastDeadline(uint256 deadline);
    /// @notice A signer is not a participant of the job.
    error NotParticipant(address signer);
    /// @notice A participant signed twice.
    error DuplicateSigner(address signer);
    /// @notice Fewer than 2/3 of participants signed.
    error NotEnoughSigners(uint256 got, uint256 required);
    /// @notice A zero root or hash.
    error ZeroValue();
    /// @notice The job is (not) closed as required.
    error ClosedState(uint256 jobId, bool closed);
    /// @notice The reward root was already posted.
    error RootAlreadyPosted(uint256 epoch);
    /// @notice No reward root yet.
    error NoRoot(uint256 epoch);
    /// @notice The reward total exceeds the job's available escrow.
    error Insolvent(uint256 total, uint256 available);
    /// @notice The account already claimed this epoch.
    error AlreadyClaimed(uint256 epoch, address account);
    /// @notice The Merkle proof does not match the root.
    error InvalidProof();
    /// @notice The caller is not governance (the timelock).
    error NotGovernance(address caller);
    /// @notice Nothing to sweep.
    error NothingToSweep(uint256 epoch);

    /// @notice Creates the ledger.
    /// @param agora The AGORA token.
    /// @param protocolParams Governance parameters.
    /// @param computeMarket The market (it must bind this ledger).
    constructor(IERC20 agora, ProtocolParams protocolParams, ComputeMarket computeMarket)
        EIP712("Agora TrainingLedger", "1")
    {
        token = agora;
        params = protocolParams;
        market = computeMarket;
    }

    /// @notice Commits round `round` of a running job: the Merkle root of all round records and the model
    ///         hash after the outer step, co-signed by at least 2/3 of the job's participants. Anyone may submit.
    /// @param jobId The job.
    /// @param round The round (must be the next uncommitted one, 0-based).
    /// @param recordsRoot Merkle root of the participants' round-record leaves.
    /// @param modelHash Hash of the global model after this round.
    /// @param signatures EIP-712 RoundCommit signatures by distinct participants (any order).
    function commitRound(
        uint256 jobId,
        uint256 round,
        bytes32 recordsRoot,
        bytes32 modelHash,
        bytes[] calldata signatures
    ) external {
        (ComputeMarket.JobState state, uint32 workers, uint32 rounds, uint64 deadline) = market.jobCore(jobId);
        if (state != ComputeMarket.JobState.Running) revert JobNotRunning(jobId);
        if (block.timestamp > deadline) revert PastDeadline(deadline);
        JobLedger storage l = _ledgers[jobId];
        if (round != l.roundsCommitted || round >= rounds) revert WrongRound(l.roundsCommitted, round);
        if (recordsRoot == bytes32(0) || modelHash == bytes32(0)) revert ZeroValue();
        bytes32 digest = _hashTypedDataV4(keccak256(abi.encode(ROUND_COMMIT_TYPEHASH, jobId, round, recordsRoot, modelHash)));
        uint256 n = _checkQuorum(jobId, workers, digest, signatures);
        _rounds[jobId][round] = Round({recordsRoot: recordsRoot, modelHash: modelHash, committedAt: uint64(block.timestamp)});
        l.roundsCommitted = uint32(round + 1);
        emit RoundCommitted(jobId, round, recordsRoot, modelHash, n);
    }

    /// @notice Closes a running job: when all rounds are committed (any time) or after the completion deadline
    ///         (partial). Pulls the earned escrow from the market and records the final model hash. Anyone may call.
    /// @param jobId The job.
    function closeJob(uint256 jobId) external nonReentrant {
        JobLedger storage l = _ledgers[jobId];
        if (l.closed) revert ClosedState(jobId, true);
        (,, uint32 rounds,) = market.jobCore(jobId);
        l.closed = true;
        l.complete = l.roundsCommitted >= rounds && rounds > 0;
        if (l.roundsCommitted > 0) l.finalModelHash = _rounds[jobId][l.roundsCommitted - 1].modelHash;
        uint256 before = token.balanceOf(address(this));
        uint256 paid = market.closeJob(jobId, l.roundsCommitted);
        // Trust but verify: count only what actually arrived.
        uint256 arrived = token.balanceOf(address(this)) - before;
        l.funded = arrived < paid ? arrived : paid;
        emit JobClosed(jobId, l.roundsCommitted, l.complete, l.funded, l.finalModelHash);
    }

    /// @notice Posts the reward root of an epoch (= a closed job), co-signed by at least 2/3 of participants.
    ///         The total must not exceed the job's funded escrow (solvency check). Once per epoch.
    /// @param epoch The job id.
    /// @param root Merkle root of (account, amount) leaves.
    /// @param total Sum of all leaf amounts.
    /// @param signatures EIP-712 RewardRoot signatures by distinct participants.
    function postRewardRoot(uint256 epoch, bytes32 root, uint256 total, bytes[] calldata signatures) external {
        JobLedger storage l = _ledgers[epoch];
        if (!l.closed) revert ClosedState(epoch, false);
        if (l.rewardRoot != bytes32(0)) revert RootAlreadyPosted(epoch);
        if (root == bytes32(0)) revert ZeroValue();
        if (total > l.funded) revert Insolvent(total, l.funded);
        (, uint32 workers,,) = market.jobCore(epoch);
        bytes32 digest = _hashTypedDataV4(keccak256(abi.encode(REWARD_ROOT_TYPEHASH, epoch, root, total)));
        uint256 n = _checkQuorum(epoch, workers, digest, signatures);
        l.rewardRoot = root;
        l.rewardTotal = total;
        emit RewardRootPosted(epoch, root, total, n);
    }

    /// @notice Governance fallback: posts an epoch's reward root without participant signatures (for jobs
    ///         whose participants never agree on a split). Same solvency and once-only rules.
    /// @param epoch The job id.
    /// @param root Merkle root of (account, amount) leaves.
    /// @param total Sum of all leaf amounts (at most the funded escrow).
    function postRewardRootByGovernance(uint256 epoch, bytes32 root, uint256 total) external {
        if (msg.sender != params.owner()) revert NotGovernance(msg.sender);
        JobLedger storage l = _ledgers[epoch];
        if (!l.closed) revert ClosedState(epoch, false);
        if (l.rewardRoot != bytes32(0)) revert RootAlreadyPosted(epoch);
        if (root == bytes32(0)) revert ZeroValue();
        if (total > l.funded) revert Insolvent(total, l.funded);
        l.rewardRoot = root;
        l.rewardTotal = total;
        emit RewardRootPosted(epoch, root, total, 0);
    }

    /// @notice Pays `amount` to `account` for `epoch` given a proof of the (account, amount) leaf. Anyone may
    ///         submit; tokens always go to `account`. One claim per account per epoch.
    /// @param epoch The job id.
    /// @param account The beneficiary.
    /// @param amount The leaf amount.
    /// @param proof Merkle proof (sorted-pair hashing).
    function claim(uint256 epoch, address account, uint256 amount, bytes32[] calldata proof) external nonReentrant {
        JobLedger storage l = _ledgers[epoch];
        bytes32 root = l.rewardRoot;
        if (root == bytes32(0)) revert NoRoot(epoch);
        if (_claimed[epoch][account]) revert AlreadyClaimed(epoch, account);
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(account, amount))));
        if (!MerkleProof.verifyCalldata(proof, root, leaf)) revert InvalidProof();
        uint256 claimedAfter = l.claimed + amount;
        // A tree whose leaves sum above `total` can never pay more than `total`.
        if (claimedAfter > l.rewardTotal) revert Insolvent(claimedAfter, l.rewardTotal);
        _claimed[epoch][account] = true;
        l.claimed = claimedAfter;
        emit Claimed(epoch, account, amount);
        token.safeTransfer(account, amount);
    }

    /// @notice Sends the part of a job's funded escrow that the reward root leaves unallocated to the treasury.
    /// @param epoch The job id.
    function sweepUnallocated(uint256 epoch) external nonReentrant {
        JobLedger storage l = _ledgers[epoch];
        if (l.rewardRoot == bytes32(0)) revert NoRoot(epoch);
        uint256 amount = l.funded - l.rewardTotal;
        if (l.swept || amount == 0) revert NothingToSweep(epoch);
        l.swept = true;
        address treasury = params.treasury();
        emit Swept(epoch, treasury, amount);
        token.safeTransfer(treasury, amount);
    }

    /// @notice Whether `account` has claimed in `epoch`.
    /// @param epoch The job id.
    /// @param account The account.
    /// @return True when claimed.
    function isClaimed(uint256 epoch, address account) external view returns (bool) {
        return _claimed[epoch][account];
    }

    /// @notice A committed round (zeroes when not committed).
    /// @param jobId The job.
    /// @param round The round.
    /// @return The round.
    function getRound(uint256 jobId, uint256 round) external view returns (Round memory) {
        return _rounds[jobId][round];
    }

    /// @notice A job's ledger state.
    /// @param jobId The job.
    /// @return The ledger entry.
    function getJobLedger(uint256 jobId) external view returns (JobLedger memory) {
        return _ledgers[jobId];
    }

    /// @notice Rounds committed so far for a job.
    /// @param jobId The job.
    /// @return The count.
    function roundsCommitted(uint256 jobId) external view returns (uint32) {
        return _ledgers[jobId].roundsCommitted;
    }

    /// @notice The final model hash of a closed job (last committed round's model hash).
    /// @param jobId The job.
    /// @return The hash (zero when not closed or no rounds).
    function finalModelHash(uint256 jobId) external view returns (bytes32) {
        return _ledgers[jobId].finalModelHash;
    }

    /// @notice EIP-712 digest participants sign for a round commit.
    /// @param jobId The job.
    /// @param round The round.
    /// @param recordsRoot Round-records Merkle root.
    /// @param modelHash Model hash after the round.
    /// @return The digest.
    function roundCommitDigest(uint256 jobId, uint256 round, bytes32 recordsRoot, bytes32 modelHash)
        external
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(keccak256(abi.encode(ROUND_COMMIT_TYPEHASH, jobId, round, recordsRoot, modelHash)));
    }

    /// @notice EIP-712 digest participants sign for a reward root.
    /// @param epoch The job id.
    /// @param root The reward root.
    /// @param total The reward total.
    /// @return The digest.
    function rewardRootDigest(uint256 epoch, bytes32 root, uint256 total) external view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(REWARD_ROOT_TYPEHASH, epoch, root, total)));
    }

    /// @notice Checks a round-record leaf against a committed round's records root.
    /// @param jobId The job.
    /// @param round The round.
    /// @param leaf The double-hashed round-record leaf.
    /// @param proof Merkle proof.
    /// @return True when the leaf is in the committed root.
    function verifyRoundRecord(uint256 jobId, uint256 round, bytes32 leaf, bytes32[] calldata proof)
        external
        view
        returns (bool)
    {
        bytes32 root = _rounds[jobId][round].recordsRoot;
        return root != bytes32(0) && MerkleProof.verifyCalldata(proof, root, leaf);
    }

    /// @dev Counts distinct participant signers of `digest`; reverts below ceil(2 * workers / 3).
    function _checkQuorum(uint256 jobId, uint32 workers, bytes32 digest, bytes[] calldata signatures)
        private
        view
        returns (uint256 n)
    {
        uint256 seen;
        for (uint256 i = 0; i < signatures.length; i++) {
            address signer = ECDSA.recover(digest, signatures[i]);
            uint256 idx = market.participantIndex(jobId, signer);
            if (idx == 0) revert NotParticipant(signer);
            uint256 bit = 1 << (idx - 1);
            if (seen & bit != 0) revert DuplicateSigner(signer);
            seen |= bit;
            n++;
        }
        uint256 required = (uint256(workers) * 2 + 2) / 3;
        if (n < required) revert NotEnoughSigners(n, required);
    }
}
