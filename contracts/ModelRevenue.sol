// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

/// @title ModelRevenue
/// @notice Pays the makers of a model their share of what its seller earned from queries. A seller posts,
///         per model, a Merkle root of CUMULATIVE earnings per account (providers, data contributors,
///         validators, protocol treasury: the split is computed off-chain from the model's provenance
///         manifest, so anyone can recompute and check it) and funds the increase of the total in the same
///         call. Each account claims the difference between its cumulative leaf and what it already
///         claimed. A distribution never pays out more than it was funded.
/// @dev Leaves are OpenZeppelin StandardMerkleTree ["address","uint256"] (double keccak), as TrainingLedger's.
contract ModelRevenue is ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice The token revenue is paid in (AGORA).
    IERC20 public immutable token;

    struct Distribution {
        bytes32 root;
        uint256 funded;
        uint256 paid;
    }

    mapping(bytes32 key => Distribution) private _distributions;
    mapping(bytes32 key => mapping(address account => uint256 amount)) private _claimed;

    /// @notice A seller posted a new root for a model and funded it up to `funded` (`added` in this call).
    event Posted(address indexed seller, bytes32 indexed modelHash, bytes32 root, uint256 funded, uint256 added);
    /// @notice `account` claimed `amount`, reaching `cumulative` for this seller's model.
    event Claimed(
        address indexed seller, bytes32 indexed modelHash, address indexed account, uint256 amount, uint256 cumulative
    );

    /// @notice `seller` offers the predictions of `modelHash` (the final model of job `jobId`, 0 for none)
    ///         for `unitPrice` token base units per input row at `endpoint`, an `agora serve` whose signed
    ///         announcement (GET endpoint/v1/announcement) says the rest. The latest event per seller and
    ///         model is the current offer; an empty endpoint withdraws it. Buyers check the model hash
    ///         against the job's final model hash on TrainingLedger (`agora models`).
    event Offered(
        address indexed seller, bytes32 indexed modelHash, uint256 indexed jobId, uint256 unitPrice, string endpoint
    );

    /// @notice The endpoint is longer than 512 bytes.
    error EndpointTooLong(uint256 length);
    /// @notice The new cumulative total is below what is already funded.
    error FundedDecrease(uint256 funded, uint256 newFunded);
    /// @notice The proof does not lead to the posted root.
    error InvalidProof();
    /// @notice The leaf is not above what the account already claimed.
    error NothingToClaim(uint256 cumulative, uint256 claimed);
    /// @notice Paying would take the distribution above its funding.
    error Insolvent(uint256 paidAfter, uint256 funded);
    /// @notice The root is zero.
    error ZeroRoot();

    constructor(IERC20 token_) {
        token = token_;
    }

    /// @notice The key of a seller's distribution for a model.
    function distributionKey(address seller, bytes32 modelHash) public pure returns (bytes32) {
        return keccak256(abi.encode(seller, modelHash));
    }

    /// @notice Posts a new root of cumulative earnings for `modelHash` and funds it up to `cumulativeTotal`
    ///         (pulls the increase from the seller: approve this contract first).
    function post(bytes32 modelHash, bytes32 root, uint256 cumulativeTotal) external nonReentrant {
        if (root == bytes32(0)) revert ZeroRoot();
        Distribution storage d = _distributions[distributionKey(msg.sender, modelHash)];
        if (cumulativeTotal < d.funded) revert FundedDecrease(d.funded, cumulativeTotal);
        uint256 added = cumulativeTotal - d.funded;
        d.root = root;
        d.funded = cumulativeTotal;
        emit Posted(msg.sender, modelHash, root, cumulativeTotal, added);
        if (added > 0) token.safeTransferFrom(msg.sender, address(this), added);
    }

    /// @notice Pays `account` its cumulative earnings minus what it claimed. Anyone may submit; tokens go to
    ///         `account`.
    function claim(
        address seller,
        bytes32 modelHash,
        address account,
        uint256 cumulativeAmount,
        bytes32[] calldata proof
    ) external nonReentrant {
        bytes32 key = distributionKey(seller, modelHash);
        Distribution storage d = _distributions[key];
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(account, cumulativeAmount))));
        if (d.root == bytes32(0) || !MerkleProof.verifyCalldata(proof, d.root, leaf)) revert InvalidProof();
        uint256 already = _claimed[key][account];
        if (cumulativeAmount <= already) revert NothingToClaim(cumulativeAmount, already);
        uint256 amount = cumulativeAmount - already;
        uint256 paidAfter = d.paid + amount;
        if (paidAfter > d.funded) revert Insolvent(paidAfter, d.funded);
        d.paid = paidAfter;
        _claimed[key][account] = cumulativeAmount;
        emit Claimed(seller, modelHash, account, amount, cumulativeAmount);
        token.safeTransfer(account, amount);
    }

    /// @notice Offers (or with an empty endpoint withdraws) a model's predictions for sale: see `Offered`.
    ///         Nothing is stored: the event is the record (discovery reads the logs).
    function offer(bytes32 modelHash, uint256 jobId, uint256 unitPrice, string calldata endpoint) external {
        if (bytes(endpoint).length > 512) revert EndpointTooLong(bytes(endpoint).length);
        emit Offered(msg.sender, modelHash, jobId, unitPrice, endpoint);
    }

    /// @notice A seller's distribution for a model: root, total funded, total paid out.
    function getDistribution(address seller, bytes32 modelHash)
        external
        view
        returns (bytes32 root, uint256 funded, uint256 paid)
    {
        Distribution storage d = _distributions[distributionKey(seller, modelHash)];
        return (d.root, d.funded, d.paid);
    }

    /// @notice What `account` has claimed from a seller's distribution for a model.
    function claimedOf(address seller, bytes32 modelHash, address account) external view returns (uint256) {
        return _claimed[distributionKey(seller, modelHash)][account];
    }
}
